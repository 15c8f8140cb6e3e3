"""Atomic output paths: write to a temp name in the destination directory, ``os.replace`` on success."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tfk.errors import DiskFull

__all__ = ["atomic_path", "temp_sibling"]


def temp_sibling(dst: Path) -> Path:
    """A hidden temp path next to ``dst`` that keeps its suffix (so muxers can guess the format)."""
    return dst.with_name(f".{dst.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{dst.suffix}")


@contextmanager
def atomic_path(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path; on normal exit rename it onto ``dst``, on any exception delete it.

    ``ENOSPC`` while writing becomes :class:`~tfk.errors.DiskFull`.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(dst)
    try:
        yield tmp
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFull(f"no space left on device while writing {dst}") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
