"""Fixtures of the LawDNet plugin tests: tfk's pytest fixtures plus tiny random weights.

The generator checkpoint has the *published* layout and size (``state_dict.net_g`` with ``module.`` keys,
named ``checkpoint_epoch_170.pth`` so it pairs with DP2); the tests run it at mouth 64 with an 8x8 LAW
grid, which changes no parameter shape. The DP2 network is a 2-layer, 16-unit deepspeech.pytorch model.
"""

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

MOUTH = 64
GRID = 8


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"generator": checkpoint_epoch_170.pth, "dp2": tiny deepspeech.pytorch state dict}``."""
    import torch
    from tfk_lawdnet.models.lawdnet import LawDNet

    from tfk.audio.deepspeech_pt import DeepSpeech2

    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    net = LawDNet()
    sd = {"module." + k: v for k, v in net.state_dict().items()}
    gen = d / "checkpoint_epoch_170.pth"
    torch.save({"epoch": 171, "state_dict": {"net_g": sd, "net_dI": {}, "net_dV": {}}, "optimizer": {}}, gen)
    ds = DeepSpeech2(hidden_size=16, hidden_layers=2)
    dp2 = d / "dp2_tiny.pt"
    torch.save(ds.state_dict(), dp2)
    return {"generator": gen, "dp2": dp2}


@pytest.fixture(scope="session")
def fake_require(tiny_weights):
    """A ``require(artifact_id)`` that serves the tiny weights (the store is tested elsewhere)."""
    from tfk_lawdnet import artifacts as arts

    from tfk.errors import MissingWeights

    table = {arts.DP2_CHECKPOINT: tiny_weights["dp2"], arts.CKPT_170: tiny_weights["generator"]}

    def require(artifact_id: str) -> Path:
        if artifact_id not in table:
            raise MissingWeights(f"{artifact_id} is not present", missing=[artifact_id])
        return table[artifact_id]

    return require


@pytest.fixture(scope="session")
def dubber(tiny_weights, fake_require):
    from tfk_lawdnet.infer import load_dubber

    return load_dubber(
        tiny_weights["generator"], "cpu", batch_size=8, mouth=MOUTH, grid_size=GRID, require=fake_require
    )


@pytest.fixture(scope="session")
def short_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s, 25 fps, 192x192 talking clip (real face) with audio."""
    from tfk.testing.synth import make_talking_clip

    return make_talking_clip(tmp_path_factory.mktemp("tpl") / "tpl.mp4", seconds=1.0, size=192)
