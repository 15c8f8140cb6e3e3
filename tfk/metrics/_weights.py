"""Resolve metric weights from the store, with one clear error when they are missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.errors import InputNotFound, InvalidArtifact, MissingWeights


def pull_command(artifact_id: str) -> str:
    return f"tfk weights pull {artifact_id}"


def resolve_weights(artifact_id: str, what: str, path: str | Path | None = None, download: bool = True) -> Path:
    """Path of the weights file for ``artifact_id`` (or the explicit ``path``).

    ``download=True`` uses ``tfk.weights.require`` (fetches a public file unless offline); ``False`` only
    looks in the store (``tfk.weights.find``). Raises :class:`MissingWeights` naming
    ``tfk weights pull <id>`` when the file cannot be had.
    """
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputNotFound(f"{what} weights file not found: {p}")
        return p
    cmd = pull_command(artifact_id)
    missing = MissingWeights(
        f"{what} needs the weights {artifact_id}, which are not in the store; run `{cmd}`",
        hint=cmd,
        missing=[artifact_id],
    )
    try:
        from tfk.weights import find, require
    except ImportError:  # the store is not installed in this build
        raise missing from None
    if not download:
        found = find(artifact_id)
        if found is None:
            raise missing
        return Path(found)
    try:
        return Path(require(artifact_id))
    except MissingWeights as err:
        if "tfk weights" in err.message:
            raise
        raise type(err)(
            f"{what} needs the weights {artifact_id}: {err.message} (run `{cmd}`)",
            hint=err.hint or cmd,
            missing=err.missing or [artifact_id],
        ) from err


def load_state_dict(path: str | Path, what: str) -> dict[str, Any]:
    """``torch.load`` a plain state dict safely (``weights_only``) or raise :class:`InvalidArtifact`."""
    import torch

    try:
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a wrong file
        raise InvalidArtifact(f"{what}: {path} is not a loadable PyTorch state dict ({err})") from err
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise InvalidArtifact(f"{what}: {path} holds a {type(sd).__name__}, not a state dict")
    return sd


def check_contract(sd: dict[str, Any], expected: dict[str, tuple[int, ...]], what: str, path: Any = "") -> None:
    """Raise :class:`InvalidArtifact` when a key of ``expected`` is missing or has another shape."""
    missing = [k for k in expected if k not in sd]
    if missing:
        raise InvalidArtifact(f"{what} {path}: missing {len(missing)} keys (first: {missing[0]})")
    for k, shape in expected.items():
        got = tuple(sd[k].shape)
        if got != tuple(shape):
            raise InvalidArtifact(f"{what} {path}: {k} has shape {list(got)}, expected {list(shape)}")
