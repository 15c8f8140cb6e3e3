"""Safe checkpoint reading and one "missing / unexpected / wrong shape" check for every network in tfk.

``read_state_dict`` loads with ``torch.load(weights_only=True)`` (never unpickles code) or safetensors;
``check_state_dict`` compares a state dict with the shapes a network expects and raises one
:class:`~tfk.errors.InvalidArtifact` line naming how many keys are missing, unexpected or of the wrong
shape, with an example of each; ``load_strict`` does both and loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfk.errors import InputNotFound, InvalidArtifact

__all__ = ["check_state_dict", "load_strict", "read_checkpoint", "read_state_dict", "shapes_of"]


def read_checkpoint(path: str | os.PathLike[str], what: str = "checkpoint") -> Any:
    """The object stored in a ``.pth``/``.pt`` (weights-only) or ``.safetensors`` file."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFound(f"{what} not found: {p}")
    if p.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InvalidArtifact(f"{what}: {p.name} is a safetensors file; pip install safetensors") from None
        try:
            return load_file(str(p), device="cpu")
        except Exception as exc:  # noqa: BLE001 - a damaged header or body
            raise InvalidArtifact(f"{what}: {p.name} is not a readable safetensors file ({_first(exc)})") from None
    import torch

    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle.UnpicklingError, RuntimeError, EOFError, ...
        from tfk.weights.checks import describe_load_failure

        label = "" if what == "checkpoint" else f"{what}: "
        raise InvalidArtifact(
            f"{label}{p.name} is not a PyTorch checkpoint ({describe_load_failure(p, exc)})"
        ) from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else type(exc).__name__) or type(exc).__name__


def read_state_dict(
    path: str | os.PathLike[str], what: str = "checkpoint", key: str | None = "state_dict", strip: str = ""
) -> dict[str, Any]:
    """A state dict of tensors from ``path``: unwrapped from ``obj[key]`` when present, ``strip`` removed
    from the front of every key (e.g. ``"module."``)."""
    obj = read_checkpoint(path, what)
    if key and isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise InvalidArtifact(f"{what}: {Path(path).name} holds a {type(obj).__name__}, not a state dict")
    return {k.removeprefix(strip) if strip else k: v for k, v in obj.items()}


def shapes_of(module_or_sd: Any) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a module's state dict (or of a state dict)."""
    sd = module_or_sd.state_dict() if hasattr(module_or_sd, "state_dict") else module_or_sd
    return {k: tuple(v.shape) for k, v in sd.items()}


def check_state_dict(
    sd: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]], what: str, strict: bool = True
) -> None:
    """Raise :class:`InvalidArtifact` unless ``sd`` has every key of ``expected`` with its shape (and, with
    ``strict``, no other key)."""
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected)) if strict else []
    wrong = sorted(k for k in set(expected) & set(sd) if tuple(sd[k].shape) != tuple(expected[k]))
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        parts.append(f"{len(wrong)} with wrong shape (e.g. {k} {tuple(sd[k].shape)} != {tuple(expected[k])})")
    raise InvalidArtifact(f"{what}: " + "; ".join(parts))


def load_strict(module: Any, sd: Mapping[str, Any], what: str) -> Any:
    """Check ``sd`` against ``module`` (BatchNorm ``num_batches_tracked`` counters absent from old
    checkpoints are filled in), then load it strictly. Returns ``module``."""
    import torch

    own = module.state_dict()
    sd = dict(sd)
    for k in own:
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = torch.zeros((), dtype=torch.long)
    check_state_dict(sd, shapes_of(own), what)
    module.load_state_dict(sd, strict=True)
    return module
