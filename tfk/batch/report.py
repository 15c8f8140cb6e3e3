"""Batch progress on stderr: jobs done / failed / running, one line per event (plain) or a live bar (rich)."""

from __future__ import annotations

from typing import Any


class BatchReporter:
    """``mode``: ``rich`` (a bar with the counts), ``plain`` (a line per job start/end) or ``none``."""

    def __init__(self, total: int, mode: str = "plain"):
        self.total = total
        self.mode = mode
        self.done = self.failed = self.cached = 0
        self.running: set[str] = set()
        self._bar: Any = None
        if mode == "rich":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from tfk.console import err_console

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console(),
            )
            self._task = self._bar.add_task(self._counts(), total=total)
            self._bar.start()

    def _counts(self) -> str:
        return f"jobs: {self.done} done, {self.failed} failed, {len(self.running)} running"

    def _emit(self, line: str) -> None:
        if self.mode == "none":
            return
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
            self._bar.update(self._task, description=self._counts(), completed=self.done + self.failed)
            return
        from tfk.console import err_console

        err_console().print(f"[{self._counts()} of {self.total}] {line}", markup=False, highlight=False)

    def started(self, uid: str) -> None:
        self.running.add(uid)
        if self.mode == "plain":
            self._emit(f"started {uid}")
        elif self._bar is not None:
            self._bar.update(self._task, description=self._counts())

    def finished(self, uid: str, outcome: str, res: dict[str, Any]) -> None:
        self.running.discard(uid)
        dur = f"{float(res.get('duration') or 0):.1f}s"
        if outcome == "done":
            self.done += 1
            self.cached += bool(res.get("cached"))
            self._emit(f"done {uid} ({'cached, ' if res.get('cached') else ''}{dur})")
        elif outcome == "failed":
            from tfk.batch.policy import describe

            self.failed += 1
            self._emit(f"failed {uid}: exit {describe(int(res['exit_code']))}: {res.get('reason') or 'see its log'}")
        else:
            self._emit(f"{outcome} {uid} ({dur})")

    def retrying(self, uid: str, code: str, wait: float) -> None:
        self.running.discard(uid)
        self._emit(f"retrying {uid} in {wait:.0f}s (exit {code})")

    def note(self, line: str) -> None:
        self._emit(line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
