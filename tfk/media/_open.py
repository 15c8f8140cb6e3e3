"""Opening an input with PyAV and turning every failure into a typed tfk error naming the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tfk.errors import InputNotFound, NotMediaFile, TruncatedMedia

if TYPE_CHECKING:
    import av.container

__all__ = ["check_input_file", "open_input", "sniff_container"]

# Leading bytes of containers we can name; a file that starts like one but fails to open is damaged.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "MP4/MOV"),
    (4, b"moov", "MP4/MOV"),
    (4, b"mdat", "MP4/MOV"),
    (4, b"free", "MP4/MOV"),
    (4, b"wide", "MP4/MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"RIFF", "RIFF (WAV/AVI)"),
    (0, b"ID3", "MP3"),
    (0, b"OggS", "Ogg"),
    (0, b"fLaC", "FLAC"),
    (0, b"FLV", "FLV"),
)


#: ffmpeg demuxers that take any text file (chosen by extension: .txt, .nfo, ...) as an "ANSI art" video
TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})


def sniff_container(path: Path) -> str | None:
    """The container family named by the file's first bytes, or None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """The path as a :class:`Path` if it is an existing, readable, non-empty regular file.

    Raises ``InputNotFound`` (missing or unreadable) or ``NotMediaFile`` (a directory, a device, 0 bytes).
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFound(f"{p}: no such file")
    if p.is_dir():
        raise NotMediaFile(f"{p} is a directory, not a media file")
    if not p.is_file():
        raise NotMediaFile(f"{p} is not a regular file")
    if not os.access(p, os.R_OK):
        raise InputNotFound(f"{p}: permission denied")
    if p.stat().st_size == 0:
        raise NotMediaFile(f"{p} is empty (0 bytes), not a media file")
    return p


def open_input(path: str | os.PathLike[str]) -> av.container.InputContainer:
    """``av.open(path)`` with typed errors: missing -> InputNotFound, damaged -> TruncatedMedia, else NotMediaFile."""
    import av

    p = check_input_file(path)
    try:
        container = av.open(str(p), mode="r")
    except PermissionError:
        raise InputNotFound(f"{p}: permission denied") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        kind = sniff_container(p)
        if kind is not None:
            raise TruncatedMedia(
                f"{p} looks like {kind} media but cannot be read (truncated or damaged: {reason})"
            ) from None
        raise NotMediaFile(f"{p} is not a media file ({reason})") from None
    if container.format.name in TEXT_DEMUXERS:
        container.close()
        raise NotMediaFile(f"{p} is not a media file (text: ffmpeg would only render it as ANSI art)")
    return container
