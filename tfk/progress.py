"""tfk's one progress system: stage tasks and file transfers, on a terminal, in logs, or silent.

Stage work: ``progress.task("decode", total=N)`` is a context manager whose ``advance(n)`` moves it on.
The ``rich`` mode draws bars on a terminal, ``plain`` prints a line when a task starts and ends plus a
heartbeat every 30 s (logs and CI), ``none`` is silent. ``auto`` picks rich on a TTY, else plain.
Library functions take a :class:`Progress` and never need to test for ``None``: :func:`ensure` turns an
absent one into the silent :data:`SILENT`.

File transfers (the weights store): :func:`make_reporter` gives a :class:`Reporter` with a per-file
``file(label, total)`` handle and ``note(text)`` lines; :func:`human_size` formats byte counts.
"""

from __future__ import annotations

import sys
import threading
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


SILENT = Progress()


def ensure(progress: Progress | None) -> Progress:
    """``progress``, or the silent reporter when there is none."""
    return SILENT if progress is None else progress


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


# ------------------------------------------------------------------------------------------------ file transfers
class FileProgress(Protocol):
    def advance(self, n: int, total: int | None) -> None: ...
    def close(self, ok: bool) -> None: ...


class Reporter(Protocol):
    def file(self, label: str, total: int | None) -> FileProgress: ...
    def note(self, text: str) -> None: ...
    def stop(self) -> None: ...


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


class _NullFile:
    def advance(self, n: int, total: int | None) -> None:
        pass

    def close(self, ok: bool) -> None:
        pass


class NullReporter:
    def file(self, label: str, total: int | None) -> FileProgress:
        return _NullFile()

    def note(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


class _PlainFile:
    def __init__(self, reporter: PlainReporter, label: str, total: int | None):
        self.r, self.label, self.total, self.done = reporter, label, total, 0
        self.t0 = time.monotonic()
        reporter.note(f"downloading {label} ({human_size(total)})")

    def advance(self, n: int, total: int | None) -> None:
        self.done += n
        self.total = total or self.total

    def close(self, ok: bool) -> None:
        dt = max(time.monotonic() - self.t0, 1e-6)
        if ok:
            self.r.note(f"done {self.label}: {human_size(self.done)} in {dt:.1f} s")


class PlainReporter:
    """One line per event on stderr: suitable for logs and CI."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def file(self, label: str, total: int | None) -> FileProgress:
        return _PlainFile(self, label, total)

    def note(self, text: str) -> None:
        with self._lock:
            print(text, file=sys.stderr, flush=True)

    def stop(self) -> None:
        pass


class _RichFile:
    def __init__(self, progress, label: str, total: int | None):
        self.p = progress
        self.label = label
        self.task = progress.add_task(label, total=total)

    def advance(self, n: int, total: int | None) -> None:
        self.p.update(self.task, advance=n, total=total)

    def close(self, ok: bool) -> None:
        if not ok:
            self.p.update(self.task, description=f"[red]failed[/] {self.label}")
        self.p.stop_task(self.task)


class RichReporter:
    """A rich progress bar per file on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()

    def file(self, label: str, total: int | None) -> FileProgress:
        return _RichFile(self.progress, label, total)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()


def make_reporter(progress: bool | None) -> Reporter:
    """``True``: rich bars on a terminal, plain lines otherwise; ``False``/``None``: silent."""
    if not progress:
        return NullReporter()
    if sys.stderr.isatty():
        return RichReporter()
    return PlainReporter()
