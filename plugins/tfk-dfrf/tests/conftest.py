"""Fixtures of the DFRF plugin tests: tfk's pytest fixtures, official-layout random checkpoints, a tiny subject."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the plugin package without installing it

from tfk.testing.pytest_plugin import (  # noqa: E402,F401 - re-exported fixtures
    _tfk_network_guard,
    shared_media,
    synthetic_clip,
    tfk_cli,
    tfk_home,
)


def official_state_dicts(seed: int = 0) -> dict:
    """Random tensors under the key names and shapes of sstzal/DFRF's ``*_head.tar`` (written out by hand)."""
    import torch

    g = torch.Generator().manual_seed(seed)

    def t(*shape):
        return torch.randn(*shape, generator=g) * 0.05

    def lin(prefix, out, inp):
        return {f"{prefix}.weight": t(out, inp), f"{prefix}.bias": t(out)}

    slot = {"slots_mu": t(1, 1, 128), "slots_logsigma": t(1, 1, 128)}
    for n in ("to_q", "to_k", "to_v"):
        slot.update(lin(n, 128, 128))
    slot.update(
        {"gru.weight_ih": t(384, 128), "gru.weight_hh": t(384, 128), "gru.bias_ih": t(384), "gru.bias_hh": t(384)}
    )
    slot.update(lin("mlp.0", 128, 128) | lin("mlp.2", 128, 128))
    for n in ("norm_input", "norm_slots", "norm_pre_ff"):
        slot.update({f"{n}.weight": 1 + t(128), f"{n}.bias": t(128)})
    slot.update(lin("fc1.0", 32, 130) | lin("fc6", 32, 32) | lin("fc7.0", 128, 225))

    def nerf():
        d = lin("pts_linears.0", 256, 383)
        for i in range(1, 8):
            d.update(lin(f"pts_linears.{i}", 256, 639 if i == 5 else 256))
        d.update(lin("views_linears.0", 128, 283) | lin("views_linears.1", 128, 128) | lin("views_linears.2", 128, 128))
        d.update(lin("feature_linear", 256, 256) | lin("alpha_linear", 1, 256) | lin("rgb_linear", 3, 128))
        out = {f"nerf_model.{k}": v for k, v in d.items()}
        out.update({f"slot_att.{k}": v.clone() for k, v in slot.items()})
        return out

    unet = {
        "conv1.0.weight": t(64, 66, 3, 3),
        "conv1.0.bias": t(64),
        "conv2.0.weight": t(64, 64, 3, 3),
        "conv2.0.bias": t(64),
    } | lin("fc", 128, 64)
    warp = lin("mlp.0", 128, 255) | lin("mlp.2", 32, 128) | lin("mlp.4", 2, 32)
    aud = {}
    for i, (o, c) in zip((0, 2, 4, 6), ((32, 29), (32, 32), (64, 32), (64, 64)), strict=True):
        aud.update({f"encoder_conv.{i}.weight": t(o, c, 3), f"encoder_conv.{i}.bias": t(o)})
    aud.update(lin("encoder_fc1.0", 64, 64) | lin("encoder_fc1.2", 64, 64))
    att = {}
    for i, (o, c) in zip((0, 2, 4, 6, 8), ((16, 32), (8, 16), (4, 8), (2, 4), (1, 2)), strict=True):
        att.update({f"attentionConvNet.{i}.weight": t(o, c, 3), f"attentionConvNet.{i}.bias": t(o)})
    att.update(lin("attentionNet.0", 8, 8))
    return {"fn": nerf(), "fine": nerf(), "slot": slot, "unet": unet, "warp": warp, "aud": aud, "att": att}


def adam_state(params: list, lr: float = 5e-4) -> dict:
    """An Adam state dict as torch 1.9 wrote it (integer ``step``)."""
    import torch

    state = {
        i: {"step": 7, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.ones_like(p)} for i, p in enumerate(params)
    }
    group = {
        "lr": lr,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "amsgrad": False,
        "params": list(range(len(params))),
    }
    return {"state": state, "param_groups": [group]}


def write_official_checkpoint(path: Path, step: int = 300000, seed: int = 0) -> dict:
    import torch

    sd = official_state_dicts(seed)
    main = [*sd["unet"].values(), *sd["warp"].values(), *sd["slot"].values()]
    main += [v for k, v in sd["fn"].items() if k.startswith("nerf_model.")]
    main += [v for k, v in sd["fine"].items() if k.startswith("nerf_model.")]
    ck = {
        "global_step": step,
        "network_fn_state_dict": sd["fn"],
        "network_fine_state_dict": sd["fine"],
        "network_audnet_state_dict": sd["aud"],
        "optimizer_state_dict": adam_state(main),
        "optimizer_aud_state_dict": adam_state(list(sd["aud"].values())),
        "network_audattnet_state_dict": sd["att"],
        "optimizer_audatt_state_dict": adam_state(list(sd["att"].values()), lr=2.5e-3),
        "unet_state_dict": sd["unet"],
        "attention_state_dict": sd["slot"],
        "position_warp_state_dict": sd["warp"],
    }
    torch.save(ck, path)
    return ck


@pytest.fixture(scope="session")
def official_writer():
    """``write_official_checkpoint`` for tests that write several files."""
    return write_official_checkpoint


@pytest.fixture(scope="session")
def official_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "300000_head.tar"
    write_official_checkpoint(path)
    return path
