"""Per-file download progress: rich bars on a terminal, plain log lines otherwise, or nothing."""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol


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
