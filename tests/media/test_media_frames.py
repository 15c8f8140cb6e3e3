"""iter_frames: frame counts, ranges, content and errors."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from tfk import errors
from tfk.media import iter_frames
from tfk.testing import synth


def _media_dir() -> Path:
    env = os.environ.get("TFK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.make_talking_clip(tmp_path_factory.mktemp("frames") / "clip.mp4")


def test_all_frames(clip: Path) -> None:
    frames = list(iter_frames(clip))
    assert len(frames) == 100
    for f in frames:
        assert f.dtype == np.uint8 and f.shape == (256, 256, 3) and f.flags["C_CONTIGUOUS"]
    # the clip moves: consecutive frames differ, but the face stays (frames are close to each other)
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(frames)]
    assert min(diffs) > 0.05 and max(diffs) < 20


def test_ranges(clip: Path) -> None:
    full = list(iter_frames(clip))
    part = list(iter_frames(clip, start=10, stop=15))
    assert len(part) == 5
    for a, b in zip(part, full[10:15], strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(list(iter_frames(clip, start=95))) == 5
    assert len(list(iter_frames(clip, start=120))) == 0
    assert len(list(iter_frames(clip, start=3, stop=3))) == 0


def test_ranges_with_seeking(tmp_path: Path) -> None:
    """600 frames with keyframes at 0, 250, 500: every range equals the same slice of a full decode."""
    from tfk.media import write_video

    def coded(n: int):
        for i in range(n):
            f = np.zeros((64, 64, 3), np.uint8)
            f[:, :32] = (i * 7) % 256
            f[:, 32:] = (i // 36) * 12
            yield f

    path = write_video(tmp_path / "idx.mp4", coded(600))
    full = list(iter_frames(path))
    assert len(full) == 600
    for start in (49, 50, 249, 250, 251, 499, 500, 597):
        part = list(iter_frames(path, start=start, stop=start + 5))
        assert len(part) == len(full[start : start + 5])
        for a, b in zip(part, full[start : start + 5], strict=True):
            np.testing.assert_array_equal(a, b)
    assert list(iter_frames(path, start=600)) == []


def test_colours_survive_the_round_trip(tmp_path: Path) -> None:
    from tfk.media import write_video

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
    frames = [np.full((64, 64, 3), c, np.uint8) for c in colours]
    path = write_video(tmp_path / "c.mp4", frames, fps=25)
    for got, want in zip(iter_frames(path), colours, strict=True):
        assert np.abs(got.reshape(-1, 3).mean(axis=0) - np.array(want)).max() < 6


def test_errors_raise_at_call_time(tmp_path: Path, clip: Path) -> None:
    with pytest.raises(errors.InputNotFound):
        iter_frames(tmp_path / "missing.mp4")
    with pytest.raises(errors.MissingStream, match="has no video stream"):
        iter_frames(synth.make_audio_file(tmp_path / "a.wav", seconds=0.5))
    with pytest.raises(errors.UsageError):
        iter_frames(clip, start=-1)
    with pytest.raises(errors.UsageError):
        iter_frames(clip, start=5, stop=2)


def test_truncated_clip_yields_fewer_frames_or_raises(tmp_path: Path, clip: Path) -> None:
    cut = synth.make_truncated(clip, tmp_path / "cut.mp4", keep=0.5, faststart=True)
    n = 0
    try:
        for _ in iter_frames(cut):
            n += 1
    except errors.TruncatedMedia:
        pass
    assert 0 < n < 100


def test_shared_clip(tmp_path: Path) -> None:
    path = _media_dir() / "WDA_KatieHill_000.mp4"
    if not path.is_file():
        pytest.skip(f"shared media not found: {path}")
    full = list(iter_frames(path))
    assert len(full) == 200 and all(f.shape == (512, 512, 3) for f in full)
    for a, b in zip(iter_frames(path, start=150, stop=155), full[150:155], strict=True):
        np.testing.assert_array_equal(a, b)
    png = list(iter_frames(path.parent / "people_0.png"))
    assert len(png) == 1 and png[0].shape == (474, 474, 3) and png[0].std() > 10
