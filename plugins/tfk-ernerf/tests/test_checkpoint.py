"""Strict loading of checkpoints written in the official ``ngp.pth`` / ``ngp_ep####.pth`` layouts."""

from __future__ import annotations

import pytest
import torch
from tfk_ernerf.models.checkpoint import load_model, read_checkpoint
from tfk_ernerf.models.network import ERNeRF, NetConfig
from tfk_ernerf.render.occupancy import packbits

from tfk.errors import ConfigError


def _official_file(path, torso=False, best=True, audio=29):
    """A random-init checkpoint in the original key layout (``ngp.pth`` drops density_grid)."""
    torch.manual_seed(3)
    m = ERNeRF(NetConfig(torso=torso, audio_in_dim=audio))
    sd = m.state_dict()
    occ = torch.rand(128**3) > 0.7
    sd["density_bitfield"] = packbits(occ)
    ck = {"epoch": 7, "global_step": 70, "stats": {}, "mean_count": 12, "mean_density": 3.5, "model": sd}
    if best:
        sd.pop("density_grid")
    else:
        ck.update(optimizer={}, lr_scheduler={}, scaler={}, ema={})
    torch.save(ck, path)
    return m, occ


@pytest.mark.parametrize("torso", [False, True])
def test_strict_load_of_official_layout(tmp_path, torso):
    ref, occ = _official_file(tmp_path / "ngp.pth", torso=torso)
    model, _ck = load_model(tmp_path / "ngp.pth")
    assert model.cfg.torso is torso
    sd = model.state_dict()
    for k, v in ref.state_dict().items():
        if k not in ("density_grid", "density_bitfield"):
            assert torch.equal(sd[k], v), k
    # the density grid is rebuilt from the bitfield: occupied exactly where the bits are set
    thresh = min(model.mean_density, model.cfg.density_thresh)
    assert torch.equal(model.density_grid[0] > thresh, occ)
    assert model.mean_density == 3.5


def test_epoch_file_and_bare_state_dict(tmp_path):
    _official_file(tmp_path / "ngp_ep0007.pth", best=False)
    m, _ = load_model(tmp_path / "ngp_ep0007.pth")
    bare = tmp_path / "bare.pth"
    torch.save(m.state_dict(), bare)
    m2, _ = load_model(bare)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values(), strict=True))


def test_esperanto_checkpoint_is_a_wav2vec_model(tmp_path):
    """An official ``--asr_model ...esperanto`` checkpoint: audio_net's first conv takes 44 channels."""
    from tfk_ernerf.models.checkpoint import checkpoint_frontend
    from tfk_ernerf.models.network import audio_in_dim

    from tfk.nerfprep.features import spec

    assert audio_in_dim(spec("wav2vec").asr_model) == spec("wav2vec").dim == 44  # the original's substring rule
    _official_file(tmp_path / "eo.pth", audio=44)
    m, ck = load_model(tmp_path / "eo.pth")
    assert m.cfg.audio_in_dim == 44 and tuple(ck["model"]["audio_net.encoder_conv.0.weight"].shape) == (32, 44, 3)
    assert "tfk" not in ck and checkpoint_frontend(ck) == "wav2vec"
    ck["tfk"] = {"frontend": "esperanto"}  # the original's name for it
    assert checkpoint_frontend(ck) == "wav2vec"


def test_hubert_checkpoint_is_recognised_and_bad_keys_fail(tmp_path):
    _official_file(tmp_path / "hu.pth", audio=1024)
    m, _ = load_model(tmp_path / "hu.pth")
    assert m.cfg.audio_in_dim == 1024
    ck = read_checkpoint(tmp_path / "hu.pth")
    ck["model"]["camera_dT"] = torch.zeros(3)
    torch.save(ck, tmp_path / "extra.pth")
    with pytest.raises(ConfigError, match="unexpected"):
        load_model(tmp_path / "extra.pth")
