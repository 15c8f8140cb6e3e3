"""Every inference mode end to end with tiny weights on the shared portrait and clip: a playable MP4 with
audio, the expected frame count and size, A/V within one frame; input errors are one-line usage errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

FRAMES = 4


@pytest.fixture(scope="module")
def engine(fake_require):
    from tfk_styleheat.infer import load_engine

    return load_engine(fake_require, "cpu", edit="young", audio=True)


@pytest.fixture(scope="module")
def extractor(fake_require):
    from tfk_styleheat.inputs import SemanticsExtractor

    return SemanticsExtractor(fake_require)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("styleheat_cache")


def _run(tmp_path, engine, extractor, cache, fake_require, **kw) -> Path:
    from tfk_styleheat.infer import infer

    kw.setdefault("frame_limit", FRAMES)
    return infer(
        output=tmp_path / "out.mp4",
        resolution=256,
        batch_size=3,
        require=fake_require,
        cache_dir=cache,
        engine=engine,
        extractor=extractor,
        **kw,
    )


def _check(path: Path, frames: int, size: int = 256) -> None:
    from tfk.media import iter_frames, probe

    info = probe(path)
    assert info.has_video and info.has_audio
    assert (info.width, info.height) == (size, size)
    assert info.n_frames == frames
    assert abs(info.audio_duration - info.video_duration) <= 1 / info.fps
    decoded = list(iter_frames(path))
    assert len(decoded) == frames and np.isfinite(decoded[0]).all() and decoded[0].std() > 0


def test_cross_identity(tmp_path, shared_media, engine, extractor, cache, fake_require):
    out = _run(
        tmp_path,
        engine,
        extractor,
        cache,
        fake_require,
        image=shared_media / "people_0.png",
        video=shared_media / "WDA_KatieHill_000.mp4",
    )
    _check(out, FRAMES)


def test_same_identity_caches_coefficients(tmp_path, shared_media, engine, extractor, cache, fake_require):
    video = shared_media / "WDA_KatieHill_000.mp4"
    out = _run(tmp_path, engine, extractor, cache, fake_require, video=video)
    _check(out, FRAMES)
    assert any(p.name.startswith("vid-") for p in cache.iterdir())

    class Boom:  # a second run must not touch the coefficient extractor
        def __getattr__(self, name):
            raise AssertionError("coefficients recomputed despite the cache")

    out2 = _run(tmp_path, engine, Boom(), cache, fake_require, video=video)
    _check(out2, FRAMES)


def test_audio_driven(tmp_path, shared_media, engine, extractor, cache, fake_require):
    out = _run(
        tmp_path,
        engine,
        extractor,
        cache,
        fake_require,
        image=shared_media / "people_0.png",
        audio=shared_media / "RD_Radio34_002.wav",
        frame_limit=6,
    )
    _check(out, 6)


def test_attribute_edit(tmp_path, shared_media, engine, extractor, cache, fake_require):
    out = _run(
        tmp_path,
        engine,
        extractor,
        cache,
        fake_require,
        image=shared_media / "people_0.png",
        video=shared_media / "WDA_KatieHill_000.mp4",
        edit="young",
        strength=2.0,
    )
    _check(out, FRAMES)


def test_pose_edit(tmp_path, shared_media, engine, extractor, cache, fake_require):
    out = _run(
        tmp_path,
        engine,
        extractor,
        cache,
        fake_require,
        image=shared_media / "people_0.png",
        pose="yaw=15,pitch=-5",
        pose_frames=5,
        frame_limit=None,
    )
    _check(out, 5)


def test_render_streams_in_batches_and_edit_ramps(engine):
    from tfk_styleheat.infer import render

    src = np.full((256, 256, 3), 128, np.uint8)
    sem = np.zeros((7, 73), np.float32)
    sizes = [len(b) for b in render(engine, src, sem, resolution=256, batch_size=3)]
    assert sizes == [3, 3, 1]


def test_optimize_inversion_reduces_reconstruction_error(engine):
    import torch
    from tfk_styleheat.infer import optimize_inversion

    torch.manual_seed(0)
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    g = engine.model.generator.stylegan
    target = torch.nn.functional.interpolate(x, size=(g.size, g.size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        inv0 = engine.model.invert(x)
        before = torch.nn.functional.mse_loss(g(inv0.wx, f_condition=inv0.fx)[0], target)
    from tfk_styleheat.train.losses import VGG19, PerceptualLoss

    inv = optimize_inversion(engine.model, x, steps=5, perceptual=PerceptualLoss(VGG19(1 / 8), style_weight=250.0))
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(g(inv.wx, f_condition=inv.fx)[0], target)
    assert inv.condition is None and after < before


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({}, "give --video"),
        ({"image": Path("a.png"), "audio": Path("a.wav"), "video": Path("v.mp4")}, "audio-driven"),
        ({"image": Path("a.png"), "edit": "young"}, "--edit needs"),
        ({"image": Path("a.png"), "pose": "yaw=abc"}, "cannot read"),
        ({"image": Path("a.png"), "pose": "nod=3"}, "cannot read"),
    ],
)
def test_bad_arguments_are_usage_errors(kw, msg):
    from tfk_styleheat.infer import choose_mode, parse_pose

    from tfk.errors import UsageError

    with pytest.raises(UsageError, match=msg):
        choose_mode(kw.get("image"), kw.get("video"), kw.get("audio"), kw.get("edit"), kw.get("pose"))
        parse_pose(kw["pose"])


def test_windows_clamp_at_both_ends():
    from tfk_styleheat.inputs import windows

    sem = np.arange(5, dtype=np.float32)[:, None].repeat(73, 1)
    w = windows(sem, 0, 5)
    assert w.shape == (5, 73, 27)
    assert (w[0, 0, :14] == 0).all() and w[0, 0, 14] == 1 and (w[4, 0, 13:] == 4).all()
