"""Small filesystem helpers: atomic writes and content hashing."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def temp_sibling(path: Path) -> Path:
    """A unique hidden temp path next to ``path`` that keeps its suffix (muxers guess formats from it)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def disk_error(
    exc: BaseException,
    path: str | os.PathLike[str],
    doing: str = "writing",
    where: str | os.PathLike[str] | None = None,
) -> Exception | None:
    """The tfk error for an ``OSError`` (or LMDB error) that is about the disk, else None.

    ENOSPC/EDQUOT (and ``lmdb.DiskError``) -> :class:`~tfk.errors.DiskFull` (75, with a hint about space);
    EROFS/EACCES/EPERM -> :class:`~tfk.errors.OutputNotWritable` (73) naming ``path``. ``where`` is the
    directory the hint names (default: ``path``'s).
    """
    from tfk.errors import DiskFull, OutputNotWritable

    code = getattr(exc, "errno", None)
    lmdb_disk = type(exc).__name__ == "DiskError" and type(exc).__module__.startswith("lmdb")
    if code in _NO_SPACE or lmdb_disk:
        if where is None:
            where = Path(path).parent if not Path(path).is_dir() else Path(path)
        return DiskFull(
            f"no space left on device while {doing} {path}",
            hint=f"free some space on the disk of {where} (df -h {where}) and run the same command again; "
            "finished work is kept",
        )
    if code in _NOT_WRITABLE:
        why = "read-only file system" if code == errno.EROFS else "permission denied"
        return OutputNotWritable(
            f"cannot write {path}: {why}", hint="choose an output location you can write to (e.g. -o DIR/out.mp4)"
        )
    return None


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike[str], doing: str = "writing") -> Iterator[None]:
    """Re-raise disk-full / read-only ``OSError`` s (and ``lmdb.DiskError``) in the block as tfk errors."""
    try:
        yield
    except Exception as exc:
        mapped = disk_error(exc, path, doing)
        if mapped is None:
            raise
        raise mapped from exc


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any work, when ``path`` could not be written (read-only, no permission, full)."""
    final = Path(path)
    probe = temp_sibling(final)
    with disk_errors(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        probe.touch()
    with contextlib.suppress(OSError):
        probe.unlink()
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path to write; on success it is fsynced and replaces ``path``, on any error it is removed.

    ``ENOSPC`` while writing becomes :class:`tfk.errors.DiskFull`; a read-only or forbidden location
    :class:`tfk.errors.OutputNotWritable` naming ``path`` (the cleanup never hides the real error).
    """
    final = Path(path)
    tmp = temp_sibling(final)
    try:
        with disk_errors(final):
            final.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield tmp
            if tmp.is_file():
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            mapped = disk_error(exc, final)
            if mapped is None:
                raise
            raise mapped from exc
    finally:
        with contextlib.suppress(OSError):  # EROFS from unlink must not replace the error being raised
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_and_size(path: str | os.PathLike[str], chunk: int = 1 << 20) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 1 MiB chunks (tfk's one file hasher)."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file."""
    return sha256_and_size(path, chunk)[0]


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
