"""Loading and saving LawDNet checkpoints.

Accepted generator files (always read with ``weights_only=True``; never unpickles code):

* the original training checkpoint ``{'epoch', 'state_dict': {'net_g', 'net_dI', 'net_dV'}, 'optimizer', ...}``
  with DDP ``module.``-prefixed keys (``checkpoint_epoch_170.pth``), or its frame-stage variant;
* tfk's own checkpoints (same nesting, unprefixed keys, plus a ``meta`` dict);
* a bare generator state dict, with or without ``module.``;
* a ``.safetensors`` file of the generator state dict (string metadata such as ``audio_frontend`` is read).

Every key is checked against the generator and loaded strictly; known older layouts (the April-June 2024
``cross_modal_attention`` model, the pre-cross-attention model, DINet) are refused with a clear message.

The audio front-end a checkpoint was trained with is returned in ``meta['audio_frontend']``: the value
recorded in the file when present (tfk writes it), else the published name (``checkpoint_epoch_120`` ->
``dp1``, TF DeepSpeech v0.1; ``checkpoint_epoch_170`` -> ``dp2``, deepspeech.pytorch V3), else the stored
epoch of those two; ``None`` when nothing tells or the name and the stored epoch disagree
(:func:`frontend_for`).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from tfk.errors import InputNotFound, InvalidArtifact

__all__ = [
    "FRONTEND_BY_EPOCH",
    "extract_generator_state",
    "frontend_for",
    "load_checkpoint",
    "load_generator",
    "load_generator_state",
    "save_checkpoint",
    "save_generator",
    "strip_module_prefix",
]

PREFIX = "module."
FRONTEND_BY_EPOCH = {120: "dp1", 170: "dp2"}  # the two published checkpoints
FRONTENDS = ("dp1", "dp2")


def strip_module_prefix(sd: Mapping[str, Any]) -> dict[str, Any]:
    """Drop a DDP ``module.`` prefix (all keys or none must carry it)."""
    keys = list(sd)
    prefixed = [k.startswith(PREFIX) for k in keys]
    if keys and all(prefixed):
        return {k[len(PREFIX) :]: v for k, v in sd.items()}
    if any(prefixed):
        raise InvalidArtifact("checkpoint mixes keys with and without the 'module.' prefix")
    return dict(sd)


def load_checkpoint(path: str | Path) -> Any:
    """The checkpoint's object, loaded safely (:func:`tfk.statedict.read_checkpoint`)."""
    from tfk.statedict import read_checkpoint

    return read_checkpoint(path)


def extract_generator_state(obj: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The generator state dict (prefix stripped) and what the container says about it."""
    info: dict[str, Any] = {}
    if not isinstance(obj, Mapping):
        raise InvalidArtifact(f"not a LawDNet checkpoint (top level is {type(obj).__name__})")
    if isinstance(obj.get("meta"), Mapping):
        info.update(obj["meta"])
    if isinstance(obj.get("audio_frontend"), str):  # a top-level record (a user's own training script)
        info.setdefault("audio_frontend", obj["audio_frontend"].lower())
    if isinstance(obj.get("epoch"), int):
        info.setdefault("epoch", obj["epoch"])
    if isinstance(obj.get("state_dict"), Mapping):
        inner = obj["state_dict"]
        if "net_g" not in inner:
            raise InvalidArtifact("checkpoint 'state_dict' has no 'net_g' entry (not a LawDNet training checkpoint)")
        sd = inner["net_g"]
    elif isinstance(obj.get("net_g"), Mapping):
        sd = obj["net_g"]
    else:
        sd = obj
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InvalidArtifact("no generator state dict of tensors found in the checkpoint")
    return strip_module_prefix(sd), info


def _signature_problem(keys: set[str]) -> str | None:
    if any(k.startswith("cross_modal_attention.") or k.startswith("flatten_and_linear.") for k in keys):
        return "an April-June 2024 LawDNet checkpoint (cross_modal_attention keys), older than the supported model"
    if any(k.startswith("adaAT.") for k in keys) or any(".norm." in k and k.startswith("trans_conv.") for k in keys):
        return "a DINet checkpoint, not LawDNet"
    if any(k.startswith("lawLayer_list.") for k in keys) and not any(k.startswith("cross_attention.") for k in keys):
        return "a pre-cross-attention LawDNet checkpoint (LawDNet-origin), older than the supported model"
    return None


def load_generator_state(net: torch.nn.Module, sd: Mapping[str, torch.Tensor], name: str = "checkpoint") -> None:
    """Strictly load ``sd`` into ``net`` with one-line errors for foreign or damaged checkpoints."""
    keys = set(sd)
    problem = _signature_problem(keys)
    if problem:
        raise InvalidArtifact(f"{name} is {problem}")
    from tfk.statedict import check_state_dict, shapes_of

    check_state_dict(sd, shapes_of(net), f"{name} does not match the LawDNet generator")
    net.load_state_dict(dict(sd), strict=True)


def frontend_for(path: str | Path, info: Mapping[str, Any]) -> tuple[str | None, str]:
    """The audio front-end (``dp1``/``dp2``/None) and where it came from.

    Evidence in order: an explicit record in the file (``recorded``), the published name
    ``checkpoint_epoch_<e>`` (``filename``), the stored epoch (``epoch``; the original stores e or e+1).
    When name and stored epoch disagree -- ``checkpoint_epoch_119.pth`` storing epoch 120 is a user's own
    epoch-119 checkpoint that only looks like the DP1 release by its epoch -- the answer is ``None`` with
    source ``conflict: <why>``, so the caller asks for ``--audio-frontend`` instead of guessing.
    """
    rec = info.get("audio_frontend")
    if rec in FRONTENDS:
        return str(rec), "recorded"
    m = re.search(r"checkpoint_epoch_(\d+)", Path(path).name)
    named = int(m.group(1)) if m else None
    epoch = info.get("epoch") if isinstance(info.get("epoch"), int) and info.get("format") != "tfk" else None
    by_epoch = next((fe for e, fe in FRONTEND_BY_EPOCH.items() if epoch in (e, e + 1)), None)
    if named is not None:
        agrees = epoch is None or epoch in (named, named + 1)
        if named in FRONTEND_BY_EPOCH and agrees:
            return FRONTEND_BY_EPOCH[named], "filename"
        if named in FRONTEND_BY_EPOCH:
            return None, (
                f"conflict: the name says the published epoch-{named} checkpoint "
                f"({FRONTEND_BY_EPOCH[named]}) but the file stores epoch {epoch}"
            )
        if by_epoch is not None:
            return None, (
                f"conflict: the name says epoch {named} (not a published checkpoint) but the stored epoch "
                f"{epoch} matches the published {by_epoch} checkpoint"
            )
        return None, "unknown"
    if by_epoch is not None:
        return by_epoch, "epoch"
    return None, "unknown"


def _read_any(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise InputNotFound(f"checkpoint not found: {path}")
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = dict(f.metadata() or {})
                sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
        except Exception as exc:
            raise InvalidArtifact(f"{path.name} is not a readable safetensors file: {exc}") from None
        info: dict[str, Any] = dict(meta)
        for k in ("epoch", "coarse_grid_size", "mouth"):
            if k in info and str(info[k]).isdigit():
                info[k] = int(info[k])
        return strip_module_prefix(sd), info
    return extract_generator_state(load_checkpoint(path))


def load_generator(
    path: str | Path, device: str | torch.device = "cpu", grid_size: int | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build a :class:`LawDNet`, load ``path`` strictly, move it to ``device`` in eval mode.

    Returns ``(net, meta)``; ``meta`` has ``audio_frontend`` (``dp1``/``dp2``/None), ``frontend_source``,
    ``coarse_grid_size`` (recorded by tfk for its own trainings, else 60 as in the release), ``epoch`` and
    ``mouth`` when known. ``grid_size`` overrides the control-grid size.
    """
    from tfk_lawdnet.models.lawdnet import LawDNet

    p = Path(path)
    sd, info = _read_any(p)
    grid = int(grid_size or info.get("coarse_grid_size") or 60)
    net = LawDNet(coarse_grid_size=grid)
    load_generator_state(net, sd, p.name)
    frontend, source = frontend_for(p, info)
    meta = {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None}
    meta.update(audio_frontend=frontend, frontend_source=source, coarse_grid_size=grid)
    meta.setdefault("epoch", None)
    meta.setdefault("mouth", None)
    return net.to(device).eval(), meta


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """``torch.save`` atomically: a temp file in the same directory, fsync, ``os.replace``, fsync the dir."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(str(p.parent), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return p


def save_generator(net: torch.nn.Module, path: str | Path, meta: Mapping[str, Any], epoch: int | None = None) -> Path:
    """Write a generator-only checkpoint in the original nesting (``state_dict.net_g``) plus ``meta``."""
    module = getattr(net, "module", net)
    sd = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    obj: dict[str, Any] = {"state_dict": {"net_g": sd}, "meta": dict(meta, format="tfk")}
    if epoch is not None:
        obj["epoch"] = int(epoch)
    return save_checkpoint(obj, path)
