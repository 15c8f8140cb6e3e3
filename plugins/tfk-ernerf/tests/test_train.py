"""Tiny training runs: the loss falls, checkpoints round-trip across processes, resume is exact."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from tfk_ernerf.data import Subject
from tfk_ernerf.models.checkpoint import read_checkpoint
from tfk_ernerf.train.config import preset
from tfk_ernerf.train.trainer import Trainer, epoch_checkpoints, run_stage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(subject_dir, tmp_path_factory):
    """head (30 steps) -> lips (to 36) -> torso (10) on the synthetic subject, tiny preset."""
    from tfk.metrics.lpips import LPIPS

    out = tmp_path_factory.mktemp("train")
    cfg = preset("tiny")
    torch.manual_seed(0)
    lp = LPIPS("alex")  # random backbone: exercises the loss plumbing, not its quality
    res = {s: run_stage(subject_dir, out, s, cfg, lpips_fn=lp) for s in ("head", "lips", "torso")}
    return out, res


def test_head_loss_falls_and_files_are_written(trained):
    out, res = trained
    head = res["head"]
    assert head.global_step == 30
    assert np.mean(head.mse[-5:]) < 0.8 * np.mean(head.mse[:5])  # the photometric error falls
    ck = out / "head" / "checkpoints"
    assert (ck / "ngp.pth").is_file()
    assert 1 <= len(epoch_checkpoints(ck)) <= 2  # keeps the last two
    assert (out / "head" / "preview.png").is_file()
    assert list((out / "head" / "run" / "ngp").glob("events.out.tfevents.*"))  # TensorBoard scalars


def test_checkpoint_layouts(trained):
    out, _ = trained
    best = read_checkpoint(out / "head" / "checkpoints" / "ngp.pth")
    assert "density_grid" not in best["model"] and "density_bitfield" in best["model"]
    assert not {"optimizer", "lr_scheduler", "scaler", "ema"} & set(best)
    ep = read_checkpoint(epoch_checkpoints(out / "head" / "checkpoints")[-1])
    assert {"epoch", "global_step", "stats", "mean_count", "mean_density", "optimizer", "lr_scheduler"} <= set(ep)
    assert {"scaler", "ema", "model"} <= set(ep) and "density_grid" in ep["model"]
    assert ep["global_step"] == 36 and ep["tfk"]["frontend"] == "deepspeech"
    torso = read_checkpoint(out / "torso" / "checkpoints" / "ngp.pth")
    assert "torso_net.net.0.weight" in torso["model"] and "mean_density_torso" in torso


def test_lips_stage_continues_the_head_with_the_lips_schedule(trained):
    _, res = trained
    lips = res["lips"]
    assert lips.global_step == 36 and len(lips.losses) == 6


def test_torso_stage_keeps_the_head_frozen(trained):
    out, _ = trained
    head = read_checkpoint(out / "head" / "checkpoints" / "ngp.pth")["model"]
    torso = read_checkpoint(out / "torso" / "checkpoints" / "ngp.pth")["model"]
    for k in ("encoder_xy.embeddings", "sigma_net.net.0.weight", "audio_net.encoder_conv.0.weight"):
        assert torch.equal(head[k], torso[k]), k
    init = torch.tensor([[0.01, 0.01, 0.1, 1], [-0.1, -0.1, 0.1, 1], [0.1, -0.1, 0.1, 1]])
    assert not torch.equal(torso["anchor_points"], init)  # the torso did train


_RENDER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    sys.path.insert(0, {plugin!r})
    from tfk_ernerf.data import Subject
    from tfk_ernerf.models.checkpoint import load_model
    from tfk_ernerf.render.renderer import render_frame, test_conditioning
    m, _ = load_model({ckpt!r})
    m.eval(); m.testing = True
    s = Subject.load({data!r}, "val")
    f = s.frames[0]
    with torch.no_grad():
        c = test_conditioning(m, s.audio(f), s.eye_of(f))
        img = render_frame(m, f.pose, s.intrinsics, s.h, s.w, c, s.bg_torso(f))["image"]
    np.save({out!r}, img.numpy())
    """
)


def test_save_then_load_in_a_fresh_process_renders_identically(subject_dir, tmp_path):
    cfg = preset("tiny", iters_head=10)
    train, val = Subject.load(subject_dir, "train"), Subject.load(subject_dir, "val")
    tr = Trainer(train, val, tmp_path / "head", "head", cfg)
    tr.fit()
    here = tr.render(val, val.frames[0]).numpy()
    out = tmp_path / "fresh.npy"
    code = _RENDER.format(
        plugin=str(Path(__file__).resolve().parents[1]),
        ckpt=str(tmp_path / "head" / "checkpoints" / "ngp.pth"),
        data=str(subject_dir),
        out=str(out),
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert np.array_equal(np.load(out), here)
    assert here.std() > 0.01  # not a blank frame


def test_resume_after_interruption_is_exact(subject_dir, tmp_path):
    cfg = preset("tiny", iters_head=20)
    straight = run_stage(subject_dir, tmp_path / "a", "head", cfg)
    first = run_stage(subject_dir, tmp_path / "b", "head", cfg, stop_after_epochs=1)
    assert first.global_step == 10
    resumed = run_stage(subject_dir, tmp_path / "b", "head", cfg)
    assert resumed.global_step == straight.global_step == 20
    assert resumed.losses == straight.losses[10:]
    a = read_checkpoint(tmp_path / "a" / "head" / "checkpoints" / "ngp.pth")["model"]
    b = read_checkpoint(tmp_path / "b" / "head" / "checkpoints" / "ngp.pth")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
