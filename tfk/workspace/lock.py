"""One writer per subject workspace: an OS file lock, as the weights store has for each artifact.

A second run on the same workspace (another ``tfk preprocess --uid alice`` while the first one works)
waits for the first and says which process it waits for; after ``TFK_LOCK_TIMEOUT`` seconds (default
1800) it gives up with :class:`tfk.errors.LockTimeout` (exit 75) and records nothing. The lock is an
``flock`` on ``<workspace>/.lock``, so a killed holder (kill -9) releases it with its last breath; the
holder's pid and command line sit in ``.lock.owner.json`` for the waiting side's message. The lock is
re-entrant within one process (a stage that locks and then runs a pipeline does not deadlock). A run over
several subjects (``--uid a,b,c``, :mod:`tfk.runner`) holds the lock of each of them while it runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tfk.errors import LockTimeout

__all__ = ["LOCK_NAME", "OWNER_NAME", "describe_owner", "workspace_lock"]

log = logging.getLogger("tfk.workspace")

LOCK_NAME = ".lock"
OWNER_NAME = ".lock.owner.json"

_held: dict[str, int] = {}  # lock path -> depth, for re-entrance within this process
_guard = threading.Lock()


def _timeout() -> float:
    from tfk.weights.config import lock_timeout  # TFK_LOCK_TIMEOUT, shared with the weights store

    return lock_timeout()


def describe_owner(root: Path) -> str:
    """``pid 1234 (tfk preprocess lawdnet ...) on host, since 12:00:01`` from the holder's record."""
    try:
        rec = json.loads((Path(root) / OWNER_NAME).read_text())
    except (OSError, ValueError):
        return "another tfk process"
    cmd = " ".join(str(a) for a in rec.get("argv") or [])[:160]
    host = rec.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"pid {rec.get('pid')}{where} ({cmd or 'tfk'}), running since {rec.get('since', '?')}"


@contextlib.contextmanager
def workspace_lock(
    root: str | os.PathLike[str],
    label: str = "this subject",
    timeout: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the workspace lock of ``root`` for the block; wait (saying for whom) or raise LockTimeout."""
    import filelock

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    key = str(path.resolve())
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentrant = True
        else:
            reentrant = False
    if reentrant:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return

    lock = filelock.FileLock(str(path))
    limit = _timeout() if timeout is None else float(timeout)
    deadline = time.monotonic() + limit
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        msg = f"waiting for {describe_owner(root)} to finish with {label} ({root})"
        log.warning(msg)
        (notify or _warn)(msg)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(
                    f"{label} is in use by {describe_owner(root)}; gave up after {limit:.0f} s",
                    hint="wait for that run to finish and run the command again, or raise TFK_LOCK_TIMEOUT",
                ) from None
            try:
                lock.acquire(timeout=min(5.0, remaining))
                break
            except filelock.Timeout:
                continue
    with _guard:
        _held[key] = 1
    owner = root / OWNER_NAME
    try:
        from tfk.fsutil import atomic_write_json

        with contextlib.suppress(OSError):
            atomic_write_json(
                owner,
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "argv": ["tfk", *sys.argv[1:]] if sys.argv and "tfk" in Path(sys.argv[0]).name else sys.argv,
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                },
            )
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


def _warn(message: str) -> None:
    from tfk.console import warn

    warn(message)
