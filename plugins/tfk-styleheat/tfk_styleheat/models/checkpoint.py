"""Loading the published StyleHEAT / SadTalker checkpoints strictly (``torch.load(weights_only=True)``).

Layouts: ``StyleGAN_e4e.pth`` = raw generator state dict; ``Encoder_e4e.pth`` = ``{encoder, latent_avg}``;
``hfgi.pth`` = ``{aligner, encoder}``; ``StyleHEAT_visual.pt`` = ``{net_G_ema: video_warper.* + calibrator.*}``
(the original loads it into the whole model with ``strict=False`` because the generator keys are absent; here
both sub-modules are loaded strictly and any other prefix is refused); a stage-1 warper checkpoint holds
``net_G_ema`` with bare ``mapping_net.* / warping_net.*`` keys (PIRender's ``warpping_net`` is renamed);
``stylegan2_d_256.pth`` = raw discriminator state dict (or under ``params``/``d``); SadTalker ``.pth`` =
``{model: state_dict}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tfk.errors import InputNotFound, InvalidArtifact

__all__ = [
    "load_discriminator",
    "load_e4e",
    "load_hfgi",
    "load_sadtalker",
    "load_state",
    "load_stylegan",
    "load_torch",
    "load_visual",
    "load_warper",
]


def load_torch(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise InputNotFound(f"checkpoint not found: {p}")
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad artifact
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InvalidArtifact(f"{p.name} is not a loadable weights-only torch checkpoint: {first[:200]}") from None


def load_state(module: nn.Module, sd: Mapping[str, torch.Tensor], what: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming the first mismatches."""
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} shape mismatches (e.g. {k}: {tuple(sd[k].shape)} vs {tuple(own[k].shape)})")
        raise InvalidArtifact(f"{what}: not the published layout: " + "; ".join(parts))
    module.load_state_dict(dict(sd), strict=True)


def _dict(obj: Any, what: str, *keys: str) -> Mapping:
    if not isinstance(obj, Mapping):
        raise InvalidArtifact(f"{what}: top level is {type(obj).__name__}, expected a dict")
    for k in keys:
        if k not in obj:
            raise InvalidArtifact(f"{what}: no {k!r} entry (has: {', '.join(map(str, list(obj)[:6]))})")
    return obj


def load_stylegan(g: nn.Module, path) -> None:
    load_state(g, _dict(load_torch(path), "StyleGAN_e4e.pth"), "StyleGAN_e4e.pth")


def load_e4e(enc: nn.Module, path) -> None:
    obj = _dict(load_torch(path), "Encoder_e4e.pth", "encoder", "latent_avg")
    load_state(enc.encoder, obj["encoder"], "Encoder_e4e.pth[encoder]")
    avg = obj["latent_avg"]
    if tuple(avg.shape) != tuple(enc.latent_avg.shape):
        raise InvalidArtifact(
            f"Encoder_e4e.pth[latent_avg]: shape {tuple(avg.shape)}, expected {tuple(enc.latent_avg.shape)}"
        )
    enc.latent_avg.copy_(avg)


def load_hfgi(aligner: nn.Module, encoder: nn.Module, path) -> None:
    obj = _dict(load_torch(path), "hfgi.pth", "aligner", "encoder")
    load_state(aligner, obj["aligner"], "hfgi.pth[aligner]")
    load_state(encoder, obj["encoder"], "hfgi.pth[encoder]")


def _ema(obj: Any, what: str) -> Mapping:
    obj = _dict(obj, what)
    return obj.get("net_G_ema", obj)


def load_visual(model: nn.Module, path) -> None:
    """``net_G_ema`` -> ``model.video_warper`` and ``model.calibrator`` (both strict)."""
    sd = _ema(load_torch(path), "StyleHEAT_visual.pt")
    parts: dict[str, dict] = {"video_warper": {}, "calibrator": {}}
    other = []
    for k, v in sd.items():
        head, _, rest = k.partition(".")
        if head in parts:
            parts[head][rest] = v
        elif head != "generator":
            other.append(k)
    if other:
        raise InvalidArtifact(f"StyleHEAT_visual.pt: unexpected keys (e.g. {other[0]})")
    load_state(model.video_warper, parts["video_warper"], "StyleHEAT_visual.pt[video_warper]")
    load_state(model.calibrator, parts["calibrator"], "StyleHEAT_visual.pt[calibrator]")


def load_warper(warper: nn.Module, path) -> None:
    """A stage-1 / PIRender warper checkpoint (``net_G_ema``; bare or ``video_warper.`` keys)."""
    sd = _ema(load_torch(path), "video_warper.pth")
    fixed = {}
    for k, v in sd.items():
        k = k.removeprefix("video_warper.").replace("warpping_net.", "warping_net.")
        if not k.startswith("calibrator."):
            fixed[k] = v
    load_state(warper, fixed, "video warper checkpoint")


def load_discriminator(d: nn.Module, path) -> None:
    obj = _dict(load_torch(path), "stylegan2_d_256.pth")
    for key in ("params", "d", "state_dict"):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    load_state(d, obj, "stylegan2_d_256.pth")


def load_sadtalker(module: nn.Module, path, what: str) -> None:
    obj = _dict(load_torch(path), what, "model")
    load_state(module, obj["model"], what)


# ---------------------------------------------------------------------------------------------- validators
def _validate(build, load) -> Any:
    def run(path) -> None:
        with torch.device("meta"):
            m = build()
        m = m.to_empty(device="cpu")
        load(m, path)

    return run


def validate_stylegan(path) -> None:
    from tfk_styleheat.models.stylegan2 import Generator

    _validate(Generator, load_stylegan)(path)


def validate_e4e(path) -> None:
    from tfk_styleheat.models.e4e import E4eEncoder

    _validate(E4eEncoder, load_e4e)(path)


def validate_hfgi(path) -> None:
    from tfk_styleheat.models.hfgi import ResidualAligner, ResidualEncoder

    _validate(
        lambda: nn.ModuleDict({"a": ResidualAligner(), "e": ResidualEncoder()}),
        lambda m, p: load_hfgi(m["a"], m["e"], p),
    )(path)


def validate_visual(path) -> None:
    from tfk_styleheat.models.calibrator import CalibrationNet
    from tfk_styleheat.models.warper import VideoWarper

    _validate(lambda: nn.ModuleDict({"video_warper": VideoWarper(), "calibrator": CalibrationNet()}), load_visual)(path)


def validate_discriminator(path) -> None:
    from tfk_styleheat.models.stylegan2 import Discriminator

    _validate(Discriminator, load_discriminator)(path)


def validate_sadtalker(path) -> None:
    obj = _dict(load_torch(path), Path(path).name)
    sd = obj.get("model", obj.get("state_dict"))
    if not isinstance(sd, Mapping) or not sd:
        raise InvalidArtifact(f"{Path(path).name}: no 'model' state dict")
