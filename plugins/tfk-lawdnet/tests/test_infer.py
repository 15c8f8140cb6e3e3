"""End-to-end LawDNet inference with tiny random weights in the published layout (CPU, mouth 64, grid 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tfk_lawdnet.infer import infer
from tfk_lawdnet.template import prepare_template

from tfk.errors import MissingStream, NoFaceFound

MOUTH, GRID = 64, 8  # as in conftest.py: the tiny test size


def _check_output(out: Path, frames: int) -> None:
    from tfk.media import count_frames, probe

    info = probe(out)
    assert info.has_video and info.has_audio and info.video_codec == "h264"
    assert info.fps == pytest.approx(25.0)
    assert count_frames(out, exact=True) == frames
    assert info.video_duration == pytest.approx(frames / 25, abs=0.041)
    assert abs(info.audio_duration - info.video_duration) <= 0.04  # A/V within one frame


def test_infer_loops_the_template_for_longer_audio(short_template, tiny_weights, fake_require, tmp_path):
    from tfk.testing.synth import make_audio_file

    audio = make_audio_file(tmp_path / "speech48k.wav", seconds=1.5, rate=48000, channels=2)
    out = infer(
        short_template,
        audio,
        tmp_path / "out.mp4",
        checkpoint=str(tiny_weights["generator"]),
        mouth=MOUTH,
        grid_size=GRID,
        batch_size=8,
        require=fake_require,
        cache_root=tmp_path / "cache",
    )
    assert out == tmp_path / "out.mp4"
    _check_output(out, 38)  # ceil(1.5 * 25) frames from a 25-frame template (ping-pong)
    assert not list(tmp_path.glob(".*out*"))  # no temp file left behind


def test_infer_cuts_a_longer_template_and_accepts_mp3(synthetic_clip, dubber, tmp_path):
    from tfk.testing.synth import make_audio_file

    audio = make_audio_file(tmp_path / "a.mp3", seconds=0.6, rate=44100, channels=1, fmt="mp3")
    tpl = dubber.prepare(synthetic_clip, cache_root=tmp_path / "cache")
    assert tpl.n_frames == 100
    out = dubber.dub(tpl, audio, tmp_path / "o.mp4")
    from tfk.media import load_audio

    _check_output(out, int(np.ceil(len(load_audio(audio)) * 25 / 16000 - 1e-6)))


def test_template_cache_is_reused_and_references_are_reproducible(short_template, tmp_path, monkeypatch):
    t1 = prepare_template(short_template, mouth=MOUTH, cache_root=tmp_path / "c")
    assert t1.crops().shape == (25, 104, 80, 3)

    def boom(*a, **k):
        raise AssertionError("landmarks recomputed despite the cache")

    monkeypatch.setattr("tfk.face.tracking.track_landmarks", boom)
    t2 = prepare_template(short_template, mouth=MOUTH, cache_root=tmp_path / "c")
    assert t2.cache_dir == t1.cache_dir
    np.testing.assert_array_equal(t1.matrices, t2.matrices)
    assert t1.reference_indices(456) == t2.reference_indices(456)
    assert len(t1.reference_indices(1)) == 5


def test_template_frames_are_read_back_in_pingpong_order(short_template, tmp_path):
    from tfk.media import iter_frames

    tpl = prepare_template(short_template, mouth=MOUTH, cache_root=tmp_path / "c")
    ref = list(iter_frames(tpl.video))
    order = [0, 1, 2, 3, 24, 23, 22, 21, 20, 5, 4, 3]
    got = list(tpl.iter_frames(order, chunk_bytes=4 * tpl.width * tpl.height * 3))  # forces several chunks
    assert len(got) == len(order)
    for i, f in zip(order, got, strict=True):
        assert np.array_equal(f, ref[i])


def test_template_without_a_face_is_a_clear_error(tmp_path):
    from tfk.media import VideoWriter

    rng = np.random.default_rng(0)
    path = tmp_path / "noface.mp4"
    with VideoWriter(path, fps=25) as w:
        for _ in range(10):
            w.write(rng.integers(0, 60, (96, 96, 3), dtype=np.uint8))
    with pytest.raises(NoFaceFound, match=r"noface\.mp4"):
        prepare_template(path, mouth=MOUTH, cache_root=tmp_path / "c")
    assert not any((tmp_path / "c").iterdir())  # nothing half-built stays in the cache


def test_audio_without_an_audio_stream_is_a_clear_error(short_template, tiny_weights, fake_require, tmp_path):
    from tfk.testing.synth import make_video_only

    silent_video = make_video_only(tmp_path / "v.mp4", seconds=0.5)
    with pytest.raises(MissingStream):
        infer(
            short_template,
            silent_video,
            tmp_path / "o.mp4",
            checkpoint=str(tiny_weights["generator"]),
            mouth=MOUTH,
            grid_size=GRID,
            require=fake_require,
            cache_root=tmp_path / "c",
        )
    assert not (tmp_path / "o.mp4").exists()


def test_silent_audio_is_fine(short_template, dubber, tmp_path):
    tpl = dubber.prepare(short_template, cache_root=tmp_path / "c")
    out = dubber.dub(tpl, np.zeros(8000, np.float32), tmp_path / "silence.mp4")
    _check_output(out, 13)


def test_infer_on_the_shared_real_clip(shared_media, dubber, tmp_path):
    from tfk.media import load_audio, write_wav

    speech = load_audio(shared_media / "RD_Radio34_002.wav")[:16000]
    audio = write_wav(tmp_path / "speech1s.wav", speech)
    tpl = dubber.prepare(shared_media / "WDA_KatieHill_000.mp4", cache_root=tmp_path / "c")
    assert tpl.n_frames == 200 and tpl.detected.mean() > 0.9
    out = dubber.dub(tpl, audio, tmp_path / "katie.mp4")
    _check_output(out, 25)
    from tfk.media import iter_frames

    first = next(iter(iter_frames(out)))
    orig = next(iter(iter_frames(shared_media / "WDA_KatieHill_000.mp4")))
    diff = np.abs(first.astype(int) - orig.astype(int)).sum(-1)
    # the lower face was replaced (random weights paint it grey) ...
    from tfk_lawdnet.crop import transform_points

    centre = transform_points(np.linalg.inv(tpl.matrices[0]), [[40, 75]])[0].round().astype(int)  # crop mouth area
    assert diff[centre[1] - 5 : centre[1] + 5, centre[0] - 5 : centre[0] + 5].mean() > 30
    # ... and the rest of the frame only carries re-encoding noise
    assert diff[:100].mean() < 6 and diff[:, :60].mean() < 6


def test_bf16_cpu_path_is_checked_against_fp32(short_template, dubber, tmp_path, monkeypatch, capfd):
    """--precision bf16 is kept only while the first batch is >= 40 dB from fp32; else fp32, with a warning."""
    from tfk_lawdnet import infer as inf
    from tfk_lawdnet.infer import Dubber, InferStats

    low = Dubber(dubber.net, dubber.frontend, dubber.runner, mouth=MOUTH, batch_size=4, precision="bf16")
    tpl = low.prepare(short_template, cache_root=tmp_path / "c")
    st = InferStats()
    _check_output(low.dub(tpl, np.zeros(4000, np.float32), tmp_path / "bf16.mp4", stats=st), 7)
    assert st.extra["bf16_psnr_db"] >= 40
    monkeypatch.setattr(inf, "BF16_MIN_PSNR", 1000.0)  # a bar no bf16 output can pass
    st = InferStats()
    low.dub(tpl, np.zeros(4000, np.float32), tmp_path / "fallback.mp4", stats=st)
    assert "using fp32" in capfd.readouterr().err and st.extra["bf16_psnr_db"] < 1000
    with pytest.raises(Exception, match="fp32 or bf16"):
        Dubber(dubber.net, dubber.frontend, dubber.runner, precision="fp16")
