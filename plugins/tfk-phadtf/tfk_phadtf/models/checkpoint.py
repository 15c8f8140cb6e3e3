"""Load and save the networks in the published file layouts (strict: names and shapes must match).

- ``atcnet_lstm_*.pth``: a plain ``ATC_net(70)`` state dict (``module.`` prefixes of DataParallel accepted);
- ``*_net_G.pth`` / ``*_net_D.pth``: plain state dicts;
- ``*_net_mem.pth``: ``{"mem_model", "mem_key", "mem_value", "mem_age", "mem_index"}``;
- ArcFace ``backbone.pth``: an insightface ``arcface_torch`` IResNet state dict.

Files written by tfk add nothing inside these dicts; the network size (``width``) of a tiny checkpoint is
inferred from its tensors, so a file carries everything needed to rebuild its network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tfk.errors import InvalidArtifact

PathLike = str | os.PathLike[str]


def _load(path: PathLike) -> dict:
    try:
        obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise InvalidArtifact(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__})") from exc
    if not isinstance(obj, dict):
        raise InvalidArtifact(f"{path}: expected a dict, found {type(obj).__name__}")
    return obj


def _strip(sd: dict) -> dict:
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}


def _strict(net: torch.nn.Module, sd: dict, path: PathLike, what: str) -> None:
    want = net.state_dict()
    missing = sorted(set(want) - set(sd))
    extra = sorted(set(sd) - set(want))
    bad = [k for k in want if k in sd and tuple(sd[k].shape) != tuple(want[k].shape)]
    if missing or extra or bad:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if extra:
            parts.append(f"unexpected {extra[:3]}")
        if bad:
            parts.append(f"shape mismatch {bad[:3]}")
        raise InvalidArtifact(f"{path}: not a PHADTF {what} checkpoint ({'; '.join(parts)})")
    net.load_state_dict(sd, strict=True)


def _width(full: int, actual: int) -> int:
    return max(1, full // max(1, actual))


def load_atcnet(path: PathLike):
    from tfk_phadtf.models.atcnet import ATCNet

    sd = _strip(_load(path))
    if "audio_eocder.0.0.weight" not in sd:
        raise InvalidArtifact(f"{path}: not an ATC_net checkpoint (no audio_eocder.0.0.weight)")
    net = ATCNet(sd["lstm_fc.0.weight"].shape[0], width=_width(64, sd["audio_eocder.0.0.weight"].shape[0]))
    _strict(net, sd, path, "ATC_net")
    return net


def load_generator(path: PathLike):
    from tfk_phadtf.models.gan import Generator

    sd = _strip(_load(path))
    if "e1.weight" not in sd:
        raise InvalidArtifact(f"{path}: not a PHADTF generator checkpoint (no e1.weight)")
    w = sd["e1.weight"]
    net = Generator(input_nc=w.shape[1], width=_width(64, w.shape[0]), feat_dim=sd["mlp.model.0.weight"].shape[1])
    _strict(net, sd, path, "generator")
    return net


def load_discriminator(path: PathLike):
    from tfk_phadtf.models.gan import Discriminator

    sd = _strip(_load(path))
    if "model.0.weight" not in sd:
        raise InvalidArtifact(f"{path}: not a PatchGAN checkpoint (no model.0.weight)")
    w = sd["model.0.weight"]
    net = Discriminator(input_nc=w.shape[1], width=_width(64, w.shape[0]))
    _strict(net, sd, path, "discriminator")
    return net


def load_memory(path: PathLike):
    from tfk_phadtf.models.memory import MemoryNetwork

    ck = _load(path)
    need = {"mem_model", "mem_key", "mem_value", "mem_age", "mem_index"}
    if not need <= set(ck):
        raise InvalidArtifact(f"{path}: not a PHADTF memory checkpoint (needs {sorted(need)})")
    sd = _strip(ck["mem_model"])
    key, value = ck["mem_key"], ck["mem_value"]
    net = MemoryNetwork(
        mem_size=key.shape[0],
        key_dim=key.shape[1],
        value_dim=value.shape[1],
        width=_width(64, sd["ResNet18.model.conv1.weight"].shape[0]),
    )
    _strict(net, sd, path, "memory network")
    net.load_checkpoint({**ck, "mem_model": sd})
    return net


def load_arcface(path: PathLike):
    from tfk_phadtf.models.arcface import LAYERS, IResNet

    sd = _strip(_load(path))
    if "conv1.weight" not in sd or "features.weight" not in sd:
        raise InvalidArtifact(f"{path}: not an insightface arcface_torch IResNet state dict")
    counts = tuple(len({k.split(".")[1] for k in sd if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    arch = next((a for a, n in LAYERS.items() if n == counts), None)
    if arch is None:
        raise InvalidArtifact(f"{path}: IResNet with blocks {counts} is not one of {sorted(LAYERS)}")
    net = IResNet(arch, width=_width(64, sd["conv1.weight"].shape[0]), num_features=sd["fc.weight"].shape[0])
    _strict(net, sd, path, "ArcFace IResNet")
    return net


def save(obj: dict, path: PathLike) -> Path:
    """Atomic ``torch.save``."""
    from tfk.fsutil import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path
