"""The whole DFRF model and its checkpoint format (``{step:06d}_head.tar``, ``base.tar``).

A checkpoint is a ``torch.save`` dict with exactly the original 11 keys (see :data:`CHECKPOINT_KEYS`);
tfk adds one optional key, ``tfk``, with what an exact resume needs (RNG states, config). The original
loader ignores it, so tfk checkpoints stay loadable by the original code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tfk.errors import InputNotFound, InvalidArtifact
from tfk_dfrf.models.audio import AudioAttNet, AudioNet
from tfk_dfrf.models.nerf import FaceFeatureNeRF, NeRFWithAttention
from tfk_dfrf.models.reference import FeatureExtractor, PositionWarp, SlotAttention

CHECKPOINT_KEYS = (
    "global_step",
    "network_fn_state_dict",
    "network_fine_state_dict",
    "network_audnet_state_dict",
    "optimizer_state_dict",
    "optimizer_aud_state_dict",
    "network_audattnet_state_dict",
    "optimizer_audatt_state_dict",
    "unet_state_dict",
    "attention_state_dict",
    "position_warp_state_dict",
)
TFK_KEY = "tfk"


class DFRF(nn.Module):
    """Feature extractor, position warp, shared slot attention, coarse and fine NeRFs, AudNet, AudAttNet."""

    def __init__(self, num_refs: int = 4, dim_aud: int = 64):
        super().__init__()
        self.num_refs = num_refs
        self.feature_extractor = FeatureExtractor(66)
        self.position_warp = PositionWarp(255, num_refs)
        self.slot_att = SlotAttention(2, 128, 130, iters=2)
        self.coarse = NeRFWithAttention(FaceFeatureNeRF(dim_aud=dim_aud), self.slot_att)
        self.fine = NeRFWithAttention(FaceFeatureNeRF(dim_aud=dim_aud), self.slot_att)
        self.audnet = AudioNet(dim_aud, 16)
        self.audattnet = AudioAttNet()

    def main_parameters(self) -> list[nn.Parameter]:
        """The original main optimizer's parameter order (extractor, warp, slot attention, coarse, fine)."""
        return [
            *self.feature_extractor.parameters(),
            *self.position_warp.parameters(),
            *self.slot_att.parameters(),
            *self.coarse.nerf_model.parameters(),
            *self.fine.nerf_model.parameters(),
        ]


def _sd(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def checkpoint_dict(
    model: DFRF, global_step: int, optimizers: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The original 11-key dict; ``optimizers`` maps ``main|aud|audatt`` to optimizers (empty states if absent)."""
    opt = {k: (v.state_dict() if v is not None else {}) for k, v in (optimizers or {}).items()}
    ck: dict[str, Any] = {
        "global_step": int(global_step),
        "network_fn_state_dict": _sd(model.coarse),
        "network_fine_state_dict": _sd(model.fine),
        "network_audnet_state_dict": _sd(model.audnet),
        "optimizer_state_dict": opt.get("main", {}),
        "optimizer_aud_state_dict": opt.get("aud", {}),
        "network_audattnet_state_dict": _sd(model.audattnet),
        "optimizer_audatt_state_dict": opt.get("audatt", {}),
        "unet_state_dict": _sd(model.feature_extractor),
        "attention_state_dict": _sd(model.slot_att),
        "position_warp_state_dict": _sd(model.position_warp),
    }
    if extra:
        ck[TFK_KEY] = dict(extra)
    return ck


def save_checkpoint(obj: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temp sibling, fsync, then ``os.replace`` (never a half-written ``.tar``)."""
    from tfk.fsutil import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(dict(obj), f)
        f.flush()
        os.fsync(f.fileno())
    return path


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a DFRF checkpoint safely (``weights_only=True``) and check it has the original 11 keys."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"DFRF checkpoint not found: {path}")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors, truncated zip, ...
        raise InvalidArtifact(f"{path} is not a readable DFRF checkpoint ({type(exc).__name__})") from None
    if not isinstance(ck, dict):
        raise InvalidArtifact(f"{path} is not a DFRF checkpoint (a {type(ck).__name__}, not a dict)")
    missing = [k for k in CHECKPOINT_KEYS if k not in ck]
    if missing:
        raise InvalidArtifact(f"{path} is not a DFRF head checkpoint: missing {', '.join(missing)}")
    return ck


def _load(module: nn.Module, sd: Mapping[str, torch.Tensor], what: str, path: Path) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or bad:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}")
        if bad:
            k = bad[0]
            parts.append(f"shape of {k} is {tuple(sd[k].shape)}, expected {tuple(own[k].shape)}")
        raise InvalidArtifact(f"{path}: {what} does not match DFRF ({'; '.join(parts)})")
    module.load_state_dict(sd, strict=True)


def load_model(
    model: DFRF, ck: Mapping[str, Any], path: str | os.PathLike[str] = "checkpoint", load_warp: bool = True
) -> None:
    """Strictly load every network of ``ck`` into ``model`` (in the original's order).

    ``load_warp=False`` re-initialises Position_warp instead, as the original does when it fine-tunes
    from a checkpoint (it loads the warp only with ``--render_only``).
    """
    p = Path(path)
    _load(model.coarse, ck["network_fn_state_dict"], "network_fn_state_dict", p)
    _load(model.feature_extractor, ck["unet_state_dict"], "unet_state_dict", p)
    if load_warp:
        _load(model.position_warp, ck["position_warp_state_dict"], "position_warp_state_dict", p)
    else:
        model.position_warp.reset_parameters()
    _load(model.slot_att, ck["attention_state_dict"], "attention_state_dict", p)
    _load(model.fine, ck["network_fine_state_dict"], "network_fine_state_dict", p)
    _load(model.audnet, ck["network_audnet_state_dict"], "network_audnet_state_dict", p)
    _load(model.audattnet, ck["network_audattnet_state_dict"], "network_audattnet_state_dict", p)


def load_dfrf(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[DFRF, dict[str, Any]]:
    """A DFRF model in eval mode with every network of ``path``; returns ``(model, checkpoint dict)``."""
    ck = read_checkpoint(path)
    model = DFRF()
    load_model(model, ck, path)
    return model.to(device).eval(), ck


def checkpoint_step(path: str | os.PathLike[str]) -> int | None:
    """``N`` of a ``N_head.tar`` / ``NNNNNN_head.tar`` name, else None."""
    stem = Path(path).name
    head = stem.split("_head.tar")[0] if stem.endswith("_head.tar") else ""
    digits = head.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else None


def head_checkpoints(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """``*_head.tar`` files of ``directory`` in step order (the original's natural-sort pick of the last)."""
    d = Path(directory)
    found = [(checkpoint_step(p), p) for p in d.glob("*_head.tar")] if d.is_dir() else []
    yield from (p for s, p in sorted((s, p) for s, p in found if s is not None))
