"""Both personalisation stages: a few steps reduce the loss; an interrupted run resumes exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_audio_stage_reduces_the_loss(subject, tiny_weights, tmp_path):
    from tfk_phadtf.models.checkpoint import load_atcnet
    from tfk_phadtf.train.audio import loss_fn, sequences, train_audio
    from tfk_phadtf.train.config import preset

    cfg = replace(preset("tiny")[0], epochs=3, lr=1e-3, max_steps=2)
    x, y, n = sequences(subject.mfcc_windows, subject.coeffs, subject.n_train, cfg.seq_len)
    idx = torch.arange(n)[:, None] + torch.arange(cfg.seq_len)[None]

    def full_loss(net) -> float:
        with torch.no_grad():
            return float(loss_fn(net.eval()(x[idx]), y[idx], cfg))

    before = full_loss(load_atcnet(tiny_weights["atcnet"]))
    res = train_audio(subject, tiny_weights["atcnet"], tmp_path / "a", cfg, resume=False)
    after = full_loss(load_atcnet(res["checkpoint"]))
    assert after < before
    assert len(res["loss_per_epoch"]) == 3 and (tmp_path / "a" / "atcnet_lstm_2.pth").is_file()
    assert not (tmp_path / "a" / "atcnet_lstm_1.pth").exists()  # only the last epoch is kept, as the original


def test_audio_stage_resumes_exactly(subject, tiny_weights, tmp_path):
    from tfk_phadtf.train.audio import train_audio
    from tfk_phadtf.train.config import preset

    cfg = replace(preset("tiny")[0], epochs=2, max_steps=2)
    full = train_audio(subject, tiny_weights["atcnet"], tmp_path / "full", cfg, resume=False)
    train_audio(subject, tiny_weights["atcnet"], tmp_path / "cut", replace(cfg, epochs=1), resume=False)
    resumed = train_audio(subject, tiny_weights["atcnet"], tmp_path / "cut", cfg, resume=True)
    a = torch.load(full["checkpoint"], weights_only=True)
    b = torch.load(resumed["checkpoint"], weights_only=True)
    assert _same(a, b)
    assert np.allclose(full["loss_per_epoch"], resumed["loss_per_epoch"])


@pytest.mark.slow
def test_gan_steps_reduce_the_l1_loss(subject, tiny_weights):
    from tfk_phadtf.models import checkpoint as ck
    from tfk_phadtf.train.config import preset
    from tfk_phadtf.train.gan import Pairs, gan_step

    torch.manual_seed(0)
    cfg = replace(preset("tiny")[1], lr=1e-3)
    nets = (
        ck.load_generator(tiny_weights["net_g"]).train(),
        ck.load_discriminator(tiny_weights["net_d"]).train(),
        ck.load_memory(tiny_weights["net_mem"]).train(),
    )
    opts = tuple(
        torch.optim.Adam([p for p in n.parameters() if p.requires_grad], lr=cfg.lr, betas=(0.5, 0.999)) for n in nets
    )
    batch = Pairs(subject, cfg).get(5, np.random.default_rng(0))
    l1 = [gan_step(nets, opts, batch, cfg)["G_L1"] for _ in range(4)]
    assert l1[-1] < l1[0]


@pytest.mark.slow
def test_gan_stage_resumes_exactly_and_writes_the_published_files(subject, tiny_weights, tmp_path):
    from tfk_phadtf.models import checkpoint as ck
    from tfk_phadtf.train.config import preset
    from tfk_phadtf.train.gan import train_gan

    init = {k: tiny_weights[k] for k in ("net_g", "net_d", "net_mem")}
    cfg = replace(preset("tiny")[1], epochs=2, max_steps=1)
    full = train_gan(subject, init, tmp_path / "full", cfg, resume=False)
    train_gan(subject, init, tmp_path / "cut", replace(cfg, epochs=1), resume=False)
    train_gan(subject, init, tmp_path / "cut", cfg, resume=True)
    for k in ("G", "D"):
        a = torch.load(tmp_path / "full" / f"2_net_{k}.pth", weights_only=True)
        b = torch.load(tmp_path / "cut" / f"2_net_{k}.pth", weights_only=True)
        assert _same(a, b), k
    m1 = ck.load_memory(tmp_path / "full" / "2_net_mem.pth")
    m2 = ck.load_memory(tmp_path / "cut" / "2_net_mem.pth")
    assert torch.equal(m1.key, m2.key) and torch.equal(m1.value, m2.value) and torch.equal(m1.age, m2.age)
    assert not (tmp_path / "full" / "1_net_G.pth").exists() and len(full["l1_per_epoch"]) == 2
