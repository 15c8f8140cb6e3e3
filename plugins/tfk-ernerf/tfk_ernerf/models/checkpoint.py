"""Checkpoints in the original layouts.

- ``ngp_ep{epoch:04d}.pth``: ``{epoch, global_step, stats, mean_count, mean_density, [mean_density_torso],
  model, optimizer, lr_scheduler, scaler, ema}`` (+ ``tfk``: our config, RNG states; the original ignores it);
- ``ngp.pth``: ``{epoch, global_step, stats, mean_count, mean_density, [mean_density_torso], model}`` with the
  current (raw) weights and **without** ``model.density_grid`` (the bitfield is kept).

Loading is strict on key names and shapes; a file without ``density_grid`` gets one decoded from its bitfield.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tfk.errors import ConfigError, InputNotFound, InvalidArtifact
from tfk_ernerf.data import canonical_frontend
from tfk_ernerf.models.network import ERNeRF, NetConfig
from tfk_ernerf.render.occupancy import grid_from_bitfield

TORSO_PREFIXES = ("anchor_points", "individual_codes_torso", "density_grid_torso", "torso_")
_FRONTENDS = {29: "deepspeech", 1024: "hubert", 44: "wav2vec"}  #: audio width -> front-end (the original's rule)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(weights_only=True)``; a bare state dict is wrapped as ``{"model": sd}``."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFound(f"checkpoint not found: {p}")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling / zip errors
        raise InvalidArtifact(f"{p} is not a readable ER-NeRF checkpoint ({type(exc).__name__})") from None
    if not isinstance(ck, dict):
        raise InvalidArtifact(f"{p} is not an ER-NeRF checkpoint (top level is {type(ck).__name__})")
    if "model" not in ck:
        ck = {"model": ck}
    if "audio_net.encoder_conv.0.weight" not in ck["model"]:
        raise InvalidArtifact(f"{p} has no ER-NeRF head weights (audio_net.encoder_conv.0.weight missing)")
    return ck


def config_from_state(sd: dict[str, torch.Tensor], base: NetConfig | None = None) -> NetConfig:
    """The network options implied by a state dict's shapes (audio width, torso, codes, grid size)."""
    cfg = NetConfig.from_dict((base or NetConfig()).to_dict())
    cfg.audio_in_dim = int(sd["audio_net.encoder_conv.0.weight"].shape[1])
    cfg.att = 2 if any(k.startswith("audio_att_net.") for k in sd) else 0
    if "individual_codes" in sd:
        cfg.ind_num, cfg.ind_dim = (int(v) for v in sd["individual_codes"].shape)
    else:
        cfg.ind_dim = 0
    cfg.exp_eye = int(sd["sigma_net.net.0.weight"].shape[1]) == 36 + 32 + 1
    cfg.torso = "torso_net.net.0.weight" in sd
    if "individual_codes_torso" in sd:
        cfg.ind_dim_torso = int(sd["individual_codes_torso"].shape[1])
    elif cfg.torso:
        cfg.ind_dim_torso = 0
    if "density_bitfield" in sd:
        cfg.grid_size = round((sd["density_bitfield"].numel() * 8) ** (1 / 3))
    return cfg


def frontend_of(cfg: NetConfig) -> str | None:
    """The audio front-end an audio width implies (29 DeepSpeech, 1024 HuBERT, 44 wav2vec esperanto)."""
    return frontend_by_width(cfg.audio_in_dim)


def frontend_by_width(width: int) -> str | None:
    return _FRONTENDS.get(int(width))


def checkpoint_frontend(ck: dict[str, Any]) -> str | None:
    """The front-end a checkpoint was trained with: tfk's record, else the one its audio width implies."""
    fe = (ck.get("tfk") or {}).get("frontend")
    if fe:
        return canonical_frontend(fe)
    w = ck["model"].get("audio_net.encoder_conv.0.weight")
    return frontend_by_width(w.shape[1]) if w is not None else None


def load_state(model: ERNeRF, sd: dict[str, torch.Tensor], allow_missing_torso: bool = False, src: str = "") -> None:
    """Strict load; ``density_grid`` may be absent (rebuilt from the bitfield); head-only into torso if allowed."""
    sd = dict(sd)
    own = model.state_dict()
    if "density_grid" not in sd and "density_bitfield" in sd:
        sd["density_grid"] = grid_from_bitfield(sd["density_bitfield"], model.cfg.density_thresh + 1e-3)
    if model.cfg.torso and "density_grid_torso" not in sd and "density_grid_torso" in own:
        sd["density_grid_torso"] = own["density_grid_torso"]
    missing = [k for k in own if k not in sd]
    if allow_missing_torso:
        missing = [k for k in missing if not k.startswith(TORSO_PREFIXES)]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint {src} does not match the ER-NeRF layout: "
            f"missing {missing[:6]}{'...' if len(missing) > 6 else ''}, "
            f"unexpected {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}"
        )
    for k, v in sd.items():
        if tuple(own[k].shape) != tuple(v.shape):
            what = ""
            if k == "audio_net.encoder_conv.0.weight":
                what = " (the audio features differ from the ones the model was trained with)"
            raise ConfigError(
                f"checkpoint {src}: {k} has shape {tuple(v.shape)}, the model expects {tuple(own[k].shape)}{what}"
            )
    model.load_state_dict(sd, strict=not allow_missing_torso)


def load_model(
    path: str | os.PathLike[str], device: str = "cpu", base: NetConfig | None = None
) -> tuple[ERNeRF, dict[str, Any]]:
    """Build the network a checkpoint describes and load it strictly -> ``(model, checkpoint dict)``."""
    ck = read_checkpoint(path)
    tfk_meta = ck.get("tfk") or {}
    if base is None and tfk_meta.get("net"):
        base = NetConfig.from_dict(tfk_meta["net"])
    cfg = config_from_state(ck["model"], base)
    model = ERNeRF(cfg)
    load_state(model, ck["model"], src=str(path))
    model.mean_density = float(ck.get("mean_density", 0.0) or 0.0)
    model.mean_count = int(ck.get("mean_count", 0) or 0)
    model.mean_density_torso = float(ck.get("mean_density_torso", 0.0) or 0.0)
    return model.to(device), ck


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temp sibling, fsync, rename onto ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def best_state(model: ERNeRF) -> dict[str, torch.Tensor]:
    """The ``ngp.pth`` model dict: current weights, no ``density_grid``."""
    sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    sd.pop("density_grid", None)
    return sd
