"""Progress reporting that library code can use without knowing where output goes.

``progress.task("decode", total=N)`` is a context manager whose ``advance(n)`` moves it on. The
``rich`` mode draws bars on a terminal, ``plain`` prints a line when a task starts and ends plus a
heartbeat every 30 s (logs and CI), ``none`` is silent. ``auto`` picks rich on a TTY, else plain.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class TaskHandle(Protocol):
    def advance(self, n: float = 1) -> None: ...


class _NullTask:
    def advance(self, n: float = 1) -> None:
        pass


class Progress:
    """Base reporter: silent."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[TaskHandle]:
        yield _NullTask()

    def close(self) -> None:
        pass


class _PlainTask:
    def __init__(self, owner: PlainProgress, description: str, total: float | None):
        self.owner, self.description, self.total = owner, description, total
        self.done = 0.0
        self.start = self.last = time.monotonic()

    def advance(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.owner.heartbeat:
            self.last = now
            self.owner.emit(self._status(now))

    def _status(self, now: float) -> str:
        elapsed = now - self.start
        if self.total:
            frac = min(self.done / self.total, 1.0)
            eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
            return f"{self.description}: {frac:5.1%} ({self.done:g}/{self.total:g}), eta {eta:.0f}s"
        return f"{self.description}: {self.done:g} done, {elapsed:.0f}s"


class PlainProgress(Progress):
    """One line per task start and end, plus a heartbeat (default every 30 s)."""

    def __init__(self, heartbeat: float = 30.0):
        self.heartbeat = heartbeat

    def emit(self, line: str) -> None:
        from tfk.console import err_console

        err_console().print(line, markup=False, highlight=False)

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[TaskHandle]:
        t = _PlainTask(self, description, total)
        self.emit(f"{description} ...")
        yield t
        self.emit(f"{description}: done in {time.monotonic() - t.start:.1f}s")


class RichProgress(Progress):
    """Rich bars on stderr."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RP

        from tfk.console import err_console

        self._p = RP(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console(),
            transient=False,
        )
        self._p.start()

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[TaskHandle]:
        tid = self._p.add_task(description, total=total)
        p = self._p

        class _T:
            def advance(self, n: float = 1) -> None:
                p.advance(tid, n)

        try:
            yield _T()
        finally:
            if total is not None:
                p.update(tid, completed=total)
            p.stop_task(tid)

    def close(self) -> None:
        self._p.stop()


def make_progress(mode: str = "auto") -> Progress:
    """``auto`` | ``rich`` | ``plain`` | ``none``."""
    if mode == "auto":
        from tfk.console import is_interactive

        mode = "rich" if is_interactive() else "plain"
    if mode == "rich":
        return RichProgress()
    if mode == "plain":
        return PlainProgress()
    return Progress()
