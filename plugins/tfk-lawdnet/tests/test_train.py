"""LawDNet training: the data layout, a few steps reduce the loss, exact resume, DDP with two gloo processes."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from tfk.errors import ConfigError, Interrupted, UsageError
from tfk_lawdnet.models.checkpoint import load_checkpoint, load_generator
from tfk_lawdnet.train import train
from tfk_lawdnet.train.data import ClipDataset, FrameDataset, TrainData, make_tiny_dataset

N_FRAMES = 60


def _frames(n: int = N_FRAMES, w: int = 80):
    h = int(w * 1.3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for t in range(n):
        img = np.stack([250 * xx / w, 250 * yy / h, 255 * ((xx // 10 + yy // 10) % 2)], -1)
        open_ = 2 + 8 * (0.5 + 0.5 * np.sin(t / 3))  # the "mouth" opens and closes
        inside = ((xx - w / 2) / 16) ** 2 + ((yy - 0.72 * h) / open_) ** 2 <= 1
        img[inside] = (60, 20, 30)
        yield img.clip(0, 255).astype(np.uint8)


def _features(n: int = N_FRAMES + 3):
    t = np.arange(n, dtype=np.float32)[:, None]
    return np.sin(t / 3 + np.arange(29, dtype=np.float32)[None] / 5).astype(np.float32)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lawdnet_data")
    return make_tiny_dataset(root, _frames(), _features())


def test_dataset_layout_and_samples(data_root, tmp_path):
    data = TrainData(data_root)
    assert data.crop_widths == [80] and data.frontends == ["dp1", "dp2"]
    assert (data_root / "crops_80.lmdb").is_dir() and (data_root / "audio_dp2" / "clip0.npy").is_file()
    fd = FrameDataset(data, 64, "dp2", augment_num=3, seed=1)
    assert len(fd) == 3
    s = fd[0]
    assert {k: tuple(v.shape) for k, v in s.items()} == {
        "source": (3, 104, 80),
        "masked": (3, 104, 80),
        "refs": (15, 104, 80),
        "audio": (29, 5),
    }
    assert 0 <= s["source"].min() and s["source"].max() <= 1
    assert s["masked"][:, 60, 40].abs().sum() < s["source"][:, 60, 40].abs().sum()  # mouth blanked
    assert torch.equal(fd[1]["refs"], fd[1]["refs"])  # deterministic per (seed, epoch, index)
    fd.set_epoch(1)
    assert not torch.equal(fd[1]["refs"], FrameDataset(data, 64, "dp2", 3, seed=1)[1]["refs"])
    # the audio window is feature rows f-2..f+2 of the source frame
    feats = _features()
    win = s["audio"].numpy().T
    f = int(np.argmin([np.abs(feats[i - 2 : i + 3] - win).sum() for i in range(2, N_FRAMES - 2)])) + 2
    np.testing.assert_allclose(feats[f - 2 : f + 3], win)
    c = ClipDataset(data, 64, "dp2", "dp1", augment_num=1)[0]
    assert {k: tuple(v.shape) for k, v in c.items()} == {
        "source": (5, 3, 104, 80),
        "masked": (5, 3, 104, 80),
        "refs": (5, 15, 104, 80),
        "audio": (5, 29, 5),
        "sync_audio": (29, 9),
    }
    with pytest.raises(ConfigError):
        FrameDataset(make_tiny_dataset(tmp_path / "d", _frames(20), {"dp1": _features()}), 64, "dp2")


def _fixed_batch(data_root, n=2):
    ds = FrameDataset(data_root, 64, "dp2", augment_num=n, seed=99)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


def _recon(net, batch):
    with torch.no_grad():
        return float(torch.nn.functional.l1_loss(net(batch["masked"], batch["refs"], batch["audio"]), batch["source"]))


def test_a_few_steps_reduce_the_loss(data_root, tmp_path):
    torch.manual_seed(456)  # the stage's own initial weights
    from tfk_lawdnet.models.lawdnet import LawDNet

    before = _recon(LawDNet(coarse_grid_size=8).eval(), _fixed_batch(data_root))
    seen = []
    out = train(
        data_root,
        tmp_path / "run",
        stages=["frame64"],
        preset="tiny",
        callback=lambda info: seen.append(info["pixel"]) and None,
    )
    net, meta = load_generator(out)
    assert meta["coarse_grid_size"] == 8 and meta["audio_frontend"] == "dp2" and meta["mouth"] == 64
    after = _recon(net, _fixed_batch(data_root))
    assert len(seen) == 4 and all(np.isfinite(seen))
    assert after < 0.8 * before
    assert any((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))
    ck = load_checkpoint(tmp_path / "run" / "frame64" / "checkpoint.pt")
    assert set(ck) >= {"optimizer", "scheduler", "scaler", "rng", "epoch", "global_step"}
    assert ck["global_step"] == 4 and ck["epoch"] == 2


def _stop_at(step):
    def cb(info):
        if info["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)  # the real Ctrl-C path: handled at the step boundary

    return cb


def test_interrupted_training_resumes_exactly(data_root, tmp_path):
    kw = dict(stages=["frame64"], preset="tiny")
    straight = train(data_root, tmp_path / "a", **kw)
    with pytest.raises(Interrupted):
        train(data_root, tmp_path / "b", callback=_stop_at(3), **kw)  # mid-epoch (2 steps per epoch)
    assert not (tmp_path / "b" / "frame64" / "generator.pt").exists()
    assert load_checkpoint(tmp_path / "b" / "frame64" / "checkpoint.pt")["global_step"] == 3
    resumed = train(data_root, tmp_path / "b", **kw)
    a = load_checkpoint(straight)["state_dict"]["net_g"]
    b = load_checkpoint(resumed)["state_dict"]["net_g"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    (tmp_path / "b" / "frame64" / "generator.pt").unlink()
    with pytest.raises(ConfigError):  # other settings cannot resume an unfinished stage
        train(data_root, tmp_path / "b", overrides={"lr_g": 2e-4}, **kw)


def test_clip_stage_step_and_stage_chaining(data_root, tmp_path):
    over = {"max_steps_per_epoch": 1, "non_decay": 1, "decay": 0}
    out = tmp_path / "run"
    frame = train(data_root, out, stages=["frame256"], preset="tiny", overrides=over)
    final = train(data_root, out, stages=["clip288"], preset="tiny", overrides=over)
    ck = load_checkpoint(out / "clip288" / "checkpoint.pt")
    assert set(ck["state_dict"]) == {"net_g", "net_dI", "net_dV"}
    g0 = load_checkpoint(frame)["state_dict"]["net_g"]
    g1 = load_checkpoint(final)["state_dict"]["net_g"]
    # started from the previous stage: the dead branch (never trained) is carried over unchanged
    assert torch.equal(g0["lawLayer_list.0.radius_layer.0.weight"], g1["lawLayer_list.0.radius_layer.0.weight"])
    assert not torch.equal(g0["out_conv.4.weight"], g1["out_conv.4.weight"])
    with pytest.raises(UsageError):
        train(data_root, out, stages=["frame512"], preset="tiny")


def test_ddp_two_gloo_processes_stay_in_sync(data_root, tmp_path):
    over = {"max_steps_per_epoch": 2, "non_decay": 1, "decay": 0}
    out = train(data_root, tmp_path / "ddp", stages=["frame64"], preset="tiny", nproc=2, overrides=over)
    _, meta = load_generator(out)
    digests = meta["rank_digests"].split(",")
    assert len(digests) == 2 and digests[0] == digests[1]
    ck = load_checkpoint(tmp_path / "ddp" / "frame64" / "checkpoint.pt")
    assert ck["world"] == 2 and ck["global_step"] == 2
