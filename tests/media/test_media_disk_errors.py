"""Disk full and unwritable outputs: DiskFull (75) / OutputNotWritable (73) naming the path, nothing left behind.

ENOSPC is injected (a tiny full disk cannot be mounted here); the unwritable location is real: nobody, not
even root, may create files in ``/sys``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from tfk import errors
from tfk.fsutil import atomic_write_text, check_writable, disk_error
from tfk.media import VideoWriter, count_frames

UNWRITABLE = Path("/sys/tfk-test-output.mp4")


def _frames(n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(n)]


class _FullDisk(np.ndarray):
    """An array whose ``tofile`` hits a full disk (the writer's audio side file)."""

    def astype(self, *args, **kwargs):  # noqa: D102 - keeps the subclass through the writer's cast
        return self

    def tofile(self, *args, **kwargs):  # noqa: D102
        raise OSError(errno.ENOSPC, "No space left on device")


def test_enospc_in_the_writer_is_diskfull_and_a_rerun_succeeds(tmp_path, monkeypatch):
    out = tmp_path / "out.mp4"
    audio = np.zeros(16000, np.float32)
    real = VideoWriter._audio_upto
    with monkeypatch.context() as m, pytest.raises(errors.DiskFull) as err:
        m.setattr(VideoWriter, "_audio_upto", lambda self, a, b: real(self, a, b).view(_FullDisk))
        with VideoWriter(out, fps=25, audio=audio, backend="ffmpeg") as w:
            for f in _frames():
                w.write(f)
    assert err.value.exit_code == 75
    assert str(out) in err.value.message and "space" in err.value.message
    assert "free some space" in (err.value.hint or "")
    assert list(tmp_path.iterdir()) == []  # no temp file, no half-written output
    # space freed: the same write now succeeds
    with VideoWriter(out, fps=25, audio=audio, backend="ffmpeg") as w:
        for f in _frames():
            w.write(f)
    assert count_frames(out, exact=True) == 5


@pytest.mark.parametrize("backend", ["ffmpeg", "pyav"])
def test_unwritable_output_location_names_the_path(backend):
    if os.access("/sys", os.W_OK) and UNWRITABLE.parent.is_dir() and _creatable(UNWRITABLE):
        pytest.skip("/sys is writable here")
    with pytest.raises(errors.OutputNotWritable) as err, VideoWriter(UNWRITABLE, fps=25, backend=backend) as w:
        for f in _frames(2):
            w.write(f)
    assert err.value.exit_code == errors.ExitCode.CANT_CREATE == 73
    assert str(UNWRITABLE) in err.value.message
    with pytest.raises(errors.OutputNotWritable):
        check_writable(UNWRITABLE)


def _creatable(p: Path) -> bool:
    try:
        p.touch()
    except OSError:
        return False
    p.unlink()
    return True


def test_read_only_cleanup_does_not_hide_the_real_error(tmp_path, monkeypatch):
    """On a read-only mount the temp file cannot be created *and* its cleanup ``unlink`` raises EROFS."""
    target = tmp_path / "ro" / "status.json"
    target.parent.mkdir()
    real_open, real_unlink = Path.open, Path.unlink

    def ro_open(self, *args, **kwargs):
        if self.parent == target.parent and "w" in (args[0] if args else kwargs.get("mode", "r")):
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_open(self, *args, **kwargs)

    def ro_unlink(self, *args, **kwargs):
        if self.parent == target.parent:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", ro_open)
    monkeypatch.setattr(Path, "unlink", ro_unlink)
    with pytest.raises(errors.OutputNotWritable) as err:
        atomic_write_text(target, "{}")
    assert err.value.message == f"cannot write {target}: read-only file system"


def test_disk_error_mapping():
    assert isinstance(disk_error(OSError(errno.ENOSPC, "x"), "/a/b"), errors.DiskFull)
    assert isinstance(disk_error(OSError(errno.EDQUOT, "x"), "/a/b"), errors.DiskFull)
    assert isinstance(disk_error(OSError(errno.EACCES, "x"), "/a/b"), errors.OutputNotWritable)
    assert disk_error(OSError(errno.ECONNRESET, "x"), "/a/b") is None
    lmdb = pytest.importorskip("lmdb")
    assert isinstance(disk_error(lmdb.DiskError("mdb_txn_commit: No space left on device"), "/d"), errors.DiskFull)
