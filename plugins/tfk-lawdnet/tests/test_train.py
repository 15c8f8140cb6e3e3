"""LawDNet training: the data layout, a few steps reduce the loss, exact resume, DDP with two gloo processes."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
from tfk_lawdnet.models.checkpoint import load_checkpoint, load_generator
from tfk_lawdnet.train import train
from tfk_lawdnet.train.data import ClipDataset, FrameDataset, TrainData, make_tiny_dataset

from tfk.errors import ConfigError, Interrupted, UsageError

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
    assert s["source"].min() >= 0 and s["source"].max() <= 1
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
    dp1_only = make_tiny_dataset(tmp_path / "d", _frames(20), {"dp1": _features()})
    with pytest.raises(ConfigError):
        FrameDataset(dp1_only, 64, "dp2")
    from tfk_lawdnet.train.config import preset
    from tfk_lawdnet.train.trainer import StageTrainer

    tr = StageTrainer(preset("tiny")[3], dp1_only, tmp_path / "s", torch.device("cpu"))  # front-ends follow the data
    assert (tr.frontend, tr.sync_frontend, tr.meta()["audio_frontend"]) == ("dp1", "dp1", "dp1")


def test_a_few_steps_reduce_the_loss(data_root, tmp_path):
    from tfk_lawdnet.train.config import preset
    from tfk_lawdnet.train.trainer import StageTrainer

    tr = StageTrainer(preset("tiny")[0], data_root, tmp_path / "s", torch.device("cpu"))
    batch = torch.utils.data.default_collate([tr.dataset[0]])
    hist = [tr.step(batch)[0] for _ in range(4)]
    assert all(np.isfinite(list(h.values())).all() for h in hist)
    assert hist[-1]["g_total"] < 0.75 * hist[0]["g_total"]
    assert hist[-1]["d_image"] < hist[0]["d_image"]
    # the inert first LAW branch never gets a gradient, so AdamW leaves it untouched
    assert all(p.grad is None for p in tr.net_g.lawLayer_list[0].parameters())


def test_pixel_only_training_skips_the_unused_networks(data_root, tmp_path):
    """``--losses pixel``: the discriminator and VGG are not run (the demo's speed), the generator still learns."""
    from dataclasses import replace

    from tfk_lawdnet.train.config import preset
    from tfk_lawdnet.train.trainer import StageTrainer

    cfg = replace(preset("tiny")[0], lr_g=5e-4, lamb_perception=0.0, lamb_g_di=0.0, lamb_g_dv=0.0, lamb_sync=0.0)
    tr = StageTrainer(cfg, data_root, tmp_path / "s", torch.device("cpu"))
    d_before = {k: v.clone() for k, v in tr.net_di.state_dict().items()}
    calls = []
    tr.vgg.register_forward_hook(lambda *a: calls.append("vgg"))
    tr.net_di.register_forward_hook(lambda *a: calls.append("di"))
    batch = torch.utils.data.default_collate([tr.dataset[0]])
    hist = [tr.step(batch)[0] for _ in range(8)]
    assert set(hist[0]) == {"pixel", "g_total"} and calls == []
    assert min(h["pixel"] for h in hist[-3:]) < 0.95 * hist[0]["pixel"]
    assert all(torch.equal(v, tr.net_di.state_dict()[k]) for k, v in d_before.items())


def _stop_at(step):
    def cb(info):
        if info["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)  # the real Ctrl-C path: handled at the step boundary

    return cb


def test_interrupted_training_resumes_exactly(data_root, tmp_path):
    kw = dict(stages=["frame64"], preset="tiny")
    straight = train(data_root, tmp_path / "a", **kw)
    _net, meta = load_generator(straight)
    assert (meta["coarse_grid_size"], meta["audio_frontend"], meta["mouth"]) == (8, "dp2", 64)
    assert any((tmp_path / "a" / "tensorboard").rglob("events.out.tfevents.*"))
    ck = load_checkpoint(tmp_path / "a" / "frame64" / "checkpoint.pt")
    assert set(ck) >= {"optimizer", "scheduler", "scaler", "rng", "epoch", "global_step"}
    assert (ck["global_step"], ck["epoch"], ck["step_in_epoch"]) == (4, 2, 0)
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


def test_bad_requests_fail_early(data_root, tmp_path):
    from tfk.errors import DeviceUnavailable, InputNotFound

    with pytest.raises(UsageError):
        train(data_root, tmp_path / "x", preset="huge")
    with pytest.raises(InputNotFound):
        train(tmp_path / "no_data", tmp_path / "x", stages=["frame64"], preset="tiny")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable):
            train(data_root, tmp_path / "x", preset="tiny", device="cuda")
    with pytest.raises(ConfigError):  # the clip stage's sync loss needs its front-end's features
        train(data_root, tmp_path / "x", stages=["clip288"], preset="tiny", overrides={"sync_frontend": "dp3"})


def test_train_package_import_is_light():
    import subprocess
    import sys

    code = "import sys, tfk_lawdnet.train, tfk_lawdnet.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "False"
