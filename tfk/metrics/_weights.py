"""Resolve metric weights from the store, with one clear error when they are missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.errors import InputNotFound, MissingWeights


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
    """A plain state dict, loaded safely (:func:`tfk.statedict.read_state_dict`)."""
    from tfk.statedict import read_state_dict

    return read_state_dict(path, what)


def check_contract(sd: dict[str, Any], expected: dict[str, tuple[int, ...]], what: str, path: Any = "") -> None:
    """Raise :class:`InvalidArtifact` when a key of ``expected`` is missing or has another shape."""
    from tfk.statedict import check_state_dict

    check_state_dict(sd, expected, f"{what} {path}".strip(), strict=False)
