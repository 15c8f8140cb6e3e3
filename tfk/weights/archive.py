"""Safe extraction from tar (plain, gz, bz2, xz) and zip archives.

Before anything is written the whole archive listing is checked: absolute paths, ``..`` escapes,
links whose target leaves the archive, device files and FIFOs make the archive refused with
:class:`tfk.errors.InvalidArtifact`. Only regular file content is ever written, to a path chosen by
the caller (:func:`extract_member`) or below a destination directory (:func:`extract_all`).
"""

from __future__ import annotations

import posixpath
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tfk.errors import InvalidArtifact

_CHUNK = 1 << 20


def is_archive(path: Path) -> bool:
    """True for a tar or zip file (by content, not by name)."""
    try:
        return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)
    except OSError:
        return False


def _norm(name: str) -> str:
    """Archive member name without a leading './' and with '/' separators."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _check_name(archive: Path, name: str) -> None:
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise InvalidArtifact(f"archive {archive.name} is unsafe: absolute path {name!r}")
    norm = posixpath.normpath(raw)
    if norm == ".." or norm.startswith("../"):
        raise InvalidArtifact(f"archive {archive.name} is unsafe: {name!r} escapes the extraction directory")


def _check_link(archive: Path, name: str, target: str) -> None:
    target = target.replace("\\", "/")
    if target.startswith("/"):
        raise InvalidArtifact(f"archive {archive.name} is unsafe: link {name!r} points to absolute path {target!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(_norm(name)), target))
    if resolved == ".." or resolved.startswith("../"):
        raise InvalidArtifact(f"archive {archive.name} is unsafe: link {name!r} points outside ({target!r})")


def _zip_is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _zip_mode(info: zipfile.ZipInfo) -> int:
    return info.external_attr >> 16


@contextmanager
def _open(archive: Path) -> Iterator[tarfile.TarFile | zipfile.ZipFile]:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                yield zf
            return
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as tf:
                yield tf
            return
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InvalidArtifact(f"{archive.name} is not a readable archive: {exc}") from None
    raise InvalidArtifact(f"{archive.name} is not a tar or zip archive")


def check_archive(archive: Path) -> list[str]:
    """Refuse an unsafe archive; return the normalised names of its regular files."""
    files: list[str] = []
    with _open(archive) as ar:
        if isinstance(ar, zipfile.ZipFile):
            for info in ar.infolist():
                _check_name(archive, info.filename)
                if _zip_is_link(info):
                    _check_link(archive, info.filename, ar.read(info).decode("utf-8", "replace"))
                    continue
                mode = _zip_mode(info)
                if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise InvalidArtifact(f"archive {archive.name} is unsafe: special file {info.filename!r}")
                if not info.is_dir():
                    files.append(_norm(info.filename))
        else:
            try:
                members = ar.getmembers()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise InvalidArtifact(f"{archive.name} is a damaged archive: {exc}") from None
            for m in members:
                _check_name(archive, m.name)
                if m.issym():
                    _check_link(archive, m.name, m.linkname)
                elif m.islnk():
                    _check_name(archive, m.linkname)
                elif m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                    raise InvalidArtifact(f"archive {archive.name} is unsafe: device or FIFO entry {m.name!r}")
                if m.isfile():
                    files.append(_norm(m.name))
    return files


def _copy(src: IO[bytes], dst: Path) -> None:
    with open(dst, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def extract_member(archive: Path, member: str, dest: Path) -> None:
    """Check the whole archive, then write the regular-file content of ``member`` to ``dest``."""
    check_archive(archive)
    want = _norm(member)
    with _open(archive) as ar:
        if isinstance(ar, zipfile.ZipFile):
            by_name = {_norm(i.filename): i for i in ar.infolist()}
            info = by_name.get(want)
            if info is not None and _zip_is_link(info):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(want), ar.read(info).decode()))
                info = by_name.get(target)
            if info is None or info.is_dir():
                raise InvalidArtifact(_not_found(archive, member, list(by_name)))
            with ar.open(info) as src:
                _copy(src, dest)
        else:
            by_name = {_norm(m.name): m for m in ar.getmembers()}
            m = by_name.get(want)
            seen = 0
            while m is not None and (m.issym() or m.islnk()) and seen < 32:
                seen += 1
                target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(_norm(m.name)), m.linkname)
                m = by_name.get(_norm(posixpath.normpath(target)))
            if m is None or not m.isfile():
                raise InvalidArtifact(_not_found(archive, member, list(by_name)))
            src = ar.extractfile(m)
            if src is None:
                raise InvalidArtifact(_not_found(archive, member, list(by_name)))
            with src:
                _copy(src, dest)


def extract_all(archive: Path, dest_dir: Path) -> list[Path]:
    """Check the archive, then extract its regular files and directories below ``dest_dir``.

    Links are not recreated (a link inside the archive is skipped), so nothing written can point
    outside ``dest_dir``. Returns the files written.
    """
    names = check_archive(archive)
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = dest_dir.resolve()
    written: list[Path] = []
    for name in names:
        target = (root / name).resolve()
        if root not in target.parents:
            raise InvalidArtifact(f"archive {archive.name} is unsafe: {name!r} escapes the extraction directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(target)
    with _open(archive) as ar:
        if isinstance(ar, zipfile.ZipFile):
            for info in ar.infolist():
                if info.is_dir() or _zip_is_link(info):
                    continue
                with ar.open(info) as src:
                    _copy(src, root / _norm(info.filename))
        else:
            for m in ar.getmembers():
                if m.isfile():
                    src = ar.extractfile(m)
                    if src is not None:
                        with src:
                            _copy(src, root / _norm(m.name))
    return written


def _not_found(archive: Path, member: str, names: list[str]) -> str:
    some = ", ".join(sorted(names)[:5])
    return f"{archive.name} has no file {member!r} (it contains: {some}{', ...' if len(names) > 5 else ''})"
