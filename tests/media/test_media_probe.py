"""probe / preflight / count_frames on the synthetic clip, bad inputs and (when present) the shared media."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfk import errors
from tfk.media import count_frames, preflight, probe
from tfk.testing import synth


def _media_dir() -> Path:
    env = os.environ.get("TFK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="module")
def media_dir() -> Path:
    d = _media_dir()
    if not (d / "WDA_KatieHill_000.mp4").is_file():
        pytest.skip(f"shared media not found in {d}")
    return d


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.make_talking_clip(tmp_path_factory.mktemp("probe") / "clip.mp4")


def test_import_is_light() -> None:
    code = "import sys, tfk.media; print('av' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_probe_synthetic_clip(clip: Path) -> None:
    info = probe(clip)
    assert info.path == clip
    assert "mp4" in info.format
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (256, 256)
    assert info.fps == pytest.approx(25.0)
    assert info.n_frames == 100
    assert info.duration == pytest.approx(4.0, abs=0.04)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert info.audio_rate == 16000
    assert info.audio_channels == 1


def test_count_frames(clip: Path) -> None:
    assert count_frames(clip) == 100
    assert count_frames(clip, exact=True) == 100


def test_preflight_accepts_good_clip(clip: Path) -> None:
    info = preflight(clip, video=True, audio=True, decode=True)
    assert info.n_frames == 100


def test_preflight_audio_only_file(tmp_path: Path) -> None:
    wav = synth.make_audio_file(tmp_path / "a.wav", seconds=1.0)
    info = preflight(wav, video=False, audio=True)
    assert not info.has_video and info.audio_rate == 48000 and info.audio_channels == 2
    assert info.duration == pytest.approx(1.0, abs=0.01)
    with pytest.raises(errors.MissingStream, match="has no video stream"):
        preflight(wav)


def _check_one_line(err: errors.TfkError, path: Path) -> None:
    assert "\n" not in str(err)
    assert str(path) in str(err)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(errors.InputNotFound) as exc:
        preflight(path)
    assert exc.value.exit_code == 66
    _check_one_line(exc.value, path)


def test_directory_is_not_media(tmp_path: Path) -> None:
    with pytest.raises(errors.NotMediaFile, match="directory"):
        preflight(tmp_path)


def test_not_media(tmp_path: Path) -> None:
    path = synth.make_not_media(tmp_path / "fake.mp4")
    with pytest.raises(errors.NotMediaFile) as exc:
        preflight(path)
    assert exc.value.exit_code == 65
    _check_one_line(exc.value, path)


@pytest.mark.parametrize("name", ["notes.txt", "readme.nfo"])
def test_a_text_file_is_not_taken_for_ansi_art_video(tmp_path: Path, name: str) -> None:
    # ffmpeg's tty demuxer opens any .txt/.nfo as a 640x400 "ANSI art" video: that is not media to a user
    path = tmp_path / name
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(errors.NotMediaFile, match="not a media file") as exc:
        preflight(path, video=True)
    _check_one_line(exc.value, path)


def test_zero_byte_file_is_not_media(tmp_path: Path) -> None:
    path = synth.make_zero_length(tmp_path / "empty.mp4", kind="empty")
    with pytest.raises(errors.NotMediaFile, match="empty") as exc:
        preflight(path)
    _check_one_line(exc.value, path)


@pytest.mark.parametrize(("kind", "suffix"), [("mp4", ".mp4"), ("wav", ".wav")])
def test_zero_length_container(tmp_path: Path, kind: str, suffix: str) -> None:
    path = synth.make_zero_length(tmp_path / f"zero{suffix}", kind=kind)
    with pytest.raises(errors.ZeroDuration) as exc:
        preflight(path, video=(kind == "mp4"), audio=(kind == "wav"))
    _check_one_line(exc.value, path)


def test_missing_audio(tmp_path: Path) -> None:
    path = synth.make_video_only(tmp_path / "silent.mp4", seconds=1.0)
    assert preflight(path).has_audio is False  # fine when audio is not needed
    with pytest.raises(errors.MissingStream, match="has no audio stream") as exc:
        preflight(path, audio=True)
    _check_one_line(exc.value, path)


@pytest.mark.parametrize("audio", [False, True])
def test_truncated_faststart_passes_probe_but_not_preflight(clip: Path, tmp_path: Path, audio: bool) -> None:
    path = synth.make_truncated(clip, tmp_path / "cut.mp4", keep=0.6, faststart=True)
    info = probe(path)  # the index is intact: the header still claims 100 frames
    assert info.n_frames == 100
    with pytest.raises(errors.TruncatedMedia) as exc:
        preflight(path, video=True, audio=audio)
    _check_one_line(exc.value, path)
    assert preflight(path, decode=False).n_frames == 100  # only decoding finds it


def test_truncated_without_index(clip: Path, tmp_path: Path) -> None:
    path = synth.make_truncated(clip, tmp_path / "cut.mp4", keep=0.6, faststart=False)
    with pytest.raises(errors.TruncatedMedia) as exc:
        preflight(path)
    _check_one_line(exc.value, path)


def test_truncation_near_the_end_is_caught(clip: Path, tmp_path: Path) -> None:
    path = synth.make_truncated(clip, tmp_path / "cut.mp4", keep=0.93, faststart=True)
    with pytest.raises(errors.TruncatedMedia):
        preflight(path)


def test_shared_media(media_dir: Path) -> None:
    info = preflight(media_dir / "WDA_KatieHill_000.mp4", video=True, audio=True)
    assert (info.width, info.height, info.fps, info.n_frames) == (512, 512, 25.0, 200)
    assert info.audio_codec == "aac" and info.audio_rate == 16000
    wav = preflight(media_dir / "RD_Radio34_002.wav", video=False, audio=True)
    assert wav.audio_rate == 16000 and wav.audio_channels == 2 and wav.duration == pytest.approx(8.0, abs=0.05)
    png = preflight(media_dir / "people_0.png")
    assert (png.width, png.height, png.n_frames) == (474, 474, 1)
