"""Both training stages: a few tiny steps reduce the loss (fixed batch), resume is exact, checkpoints have the
original layout (stage 2's ``net_G_ema`` loads as ``StyleHEAT_visual.pt``), and DDP with two gloo processes
stays in sync."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lmdb_root(tmp_path_factory, fake_require):
    from tfk_styleheat.inputs import SemanticsExtractor
    from tfk_styleheat.preprocess import preprocess

    from tfk.testing.synth import make_talking_clip

    d = tmp_path_factory.mktemp("train_clips")
    make_talking_clip(d / "id001#a#u#001.mp4", seconds=0.2, size=160)
    out = tmp_path_factory.mktemp("train_lmdb")
    preprocess(d, out, require=fake_require, extractor=SemanticsExtractor(fake_require), test_fraction=0.0)
    return out


def _load(path):
    from tfk_styleheat.models.checkpoint import load_torch

    return load_torch(path)


def _learns_and_resumes(lmdb_root, tmp_path, fake_require, stage: str, n: int, tensorboard: bool):
    from tfk_styleheat.train.trainer import latest_checkpoint, train

    kw = {"require": fake_require, "fixed_batch": True}
    once = train(lmdb_root, tmp_path / "a", stage, "tiny", iterations=n, tensorboard=tensorboard, **kw)
    losses = once["losses"]
    assert once["start"] == 0 and len(losses) == n and losses[-1] < losses[0]
    train(lmdb_root, tmp_path / "b", stage, "tiny", iterations=n - 1, snapshot_every=1, tensorboard=False, **kw)
    resumed = train(lmdb_root, tmp_path / "b", stage, "tiny", iterations=n, tensorboard=False, **kw)
    assert resumed["start"] == n - 1 and resumed["losses"] == losses[n - 1 :]
    a, b = _load(latest_checkpoint(tmp_path / "a")), _load(latest_checkpoint(tmp_path / "b"))
    assert set(a) == {"net_G", "net_G_ema", "opt_G", "sch_G", "current_epoch", "current_iteration"}
    assert latest_checkpoint(tmp_path / "a").name == f"epoch_00000_iteration_{n:09d}_checkpoint.pt"
    for k in a["net_G"]:
        assert torch.equal(a["net_G"][k], b["net_G"][k]), k
        assert torch.equal(a["net_G_ema"][k], b["net_G_ema"][k]), k
    assert (tmp_path / "a" / "samples" / f"iteration_{n:09d}.png").is_file()
    return latest_checkpoint(tmp_path / "a"), a


def test_warper_stage_learns_and_resumes_exactly(lmdb_root, tmp_path, fake_require):
    _, a = _learns_and_resumes(lmdb_root, tmp_path, fake_require, "warper", 4, tensorboard=True)
    assert "mapping_net.first.0.weight" in a["net_G_ema"]
    assert any((tmp_path / "a" / "tensorboard").glob("events.out.tfevents.*"))


def test_full_stage_learns_resumes_and_exports_visual_layout(lmdb_root, tmp_path, fake_require):
    from tfk_styleheat.models.checkpoint import load_visual
    from tfk_styleheat.models.styleheat import StyleHEAT

    ck, a = _learns_and_resumes(lmdb_root, tmp_path, fake_require, "full", 2, tensorboard=False)
    assert not any("generator" in k for k in a["net_G_ema"])
    load_visual(StyleHEAT(size=128, narrow=1 / 16, style_dim=32), ck)  # a drop-in StyleHEAT_visual.pt


def test_ddp_two_gloo_processes_stay_in_sync(lmdb_root, tmp_path, fake_require):
    from tfk_styleheat.train.trainer import latest_checkpoint, train

    train(lmdb_root, tmp_path / "ddp", "warper", "tiny", iterations=2, require=fake_require, nproc=2, tensorboard=False)
    sync = json.loads((tmp_path / "ddp" / "ddp_sync.json").read_text())
    assert sync == {"world": 2, "max_param_diff": 0.0}
    assert _load(latest_checkpoint(tmp_path / "ddp"))["current_iteration"] == 2
