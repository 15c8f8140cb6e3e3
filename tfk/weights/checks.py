"""Structural checks for artifact validators (each raises :class:`tfk.errors.InvalidArtifact`).

A public artifact whose sha256 and exact size are not published is only safe to pin when a validator
can tell a complete file from a cut-short one. These helpers are the building blocks of such
validators (the toolboxes' ``validators`` modules compose them per artifact). Heavy libraries are
imported inside the functions.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tfk.errors import InvalidArtifact

__all__ = [
    "complete_checkpoint",
    "describe_load_failure",
    "json_object",
    "mat_keys",
    "npy_dict_keys",
    "text_numbers",
    "torch_state_dict",
    "torch_zip_archive",
]


def json_object(path: str | os.PathLike[str], required: dict[str, Any] | Iterable[str]) -> dict:
    """A complete JSON object with the ``required`` keys (a dict also fixes their values)."""
    p = Path(path)
    try:
        obj = json.loads(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArtifact(f"{p.name} is not a complete JSON file ({exc})") from None
    if not isinstance(obj, dict):
        raise InvalidArtifact(f"{p.name}: expected a JSON object, found {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise InvalidArtifact(f"{p.name}: JSON object without {', '.join(missing)}")
    if isinstance(required, dict):
        wrong = [k for k, v in required.items() if v is not None and obj[k] != v]
        if wrong:
            raise InvalidArtifact(f"{p.name}: {wrong[0]} is {obj[wrong[0]]!r}, expected {required[wrong[0]]!r}")
    return obj


def describe_load_failure(path: str | os.PathLike[str], exc: BaseException) -> str:
    """What is wrong with a file ``torch.load(weights_only=True)`` refused, in words (not torch's text)."""
    p = Path(path)
    msg = str(exc)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        return f"it cannot be read: {err.strerror}"
    if not head:
        return "the file is empty"
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", msg)
    if found:
        return f"it would import {found.group(1)} to load; tfk never runs code from a checkpoint"
    if isinstance(exc, EOFError) or "unexpected EOF" in msg or "central directory" in msg:
        return "it is cut short or damaged"
    if head.startswith(b"PK") and not zipfile.is_zipfile(p):
        return "it is cut short or damaged (a zip archive without its directory)"
    if head.startswith(b"PK"):
        return "a zip file, but not one torch.save wrote"
    if head[:1] == b"\x80":
        return "a pickle that holds more than tensors and plain containers; tfk loads weights only"
    return "its bytes are neither a PyTorch zip archive nor a pickle"


def complete_checkpoint(path: str | os.PathLike[str]) -> None:
    """Validator for a published checkpoint or ``.npz`` without a known hash: the file is complete.

    A zip-based file (PyTorch >= 1.6, ``.npz``) must have its directory (at the end of the file) and the
    expected entries; a legacy PyTorch file must load completely with ``weights_only=True``.
    """
    p = Path(path)
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
        if p.suffix == ".npz":
            if not names or not all(n.endswith(".npy") for n in names):
                raise InvalidArtifact(f"{p.name}: a zip file but not a numpy .npz archive")
        elif not any(n.endswith("data.pkl") for n in names):
            raise InvalidArtifact(f"{p.name}: a zip file but not a PyTorch checkpoint (no data.pkl)")
        return
    if p.suffix == ".npz":
        raise InvalidArtifact(f"{p.name} is not a complete .npz archive (cut short or damaged)")
    import torch

    try:
        torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load means an incomplete or wrong file
        raise InvalidArtifact(f"{p.name} is not a PyTorch checkpoint ({describe_load_failure(p, exc)})") from None


def torch_zip_archive(path: str | os.PathLike[str]) -> None:
    """A complete PyTorch zip checkpoint: its central directory is readable and it has ``data.pkl``.

    A cut-short zip file loses its central directory (at the end), so truncation is always caught.
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidArtifact(f"{p.name} is not a complete PyTorch checkpoint archive ({exc})") from None
    if not any(n.endswith("data.pkl") for n in names):
        raise InvalidArtifact(f"{p.name}: a zip file but not a PyTorch checkpoint (no data.pkl)")


def torch_state_dict(path: str | os.PathLike[str], required: Iterable[str], min_tensors: int = 1) -> dict:
    """A state dict that loads completely with ``weights_only=True`` and holds the ``required`` keys.

    Every tensor's storage is read, so a file cut short anywhere fails to load.
    """
    import torch

    p = Path(path)
    try:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load means an incomplete or wrong file
        raise InvalidArtifact(f"{p.name} is not a PyTorch checkpoint ({describe_load_failure(p, exc)})") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise InvalidArtifact(f"{p.name}: expected a state dict, found {type(sd).__name__}")
    sd = {str(k).removeprefix("module."): v for k, v in sd.items()}
    missing = [k for k in required if k not in sd]
    if missing:
        raise InvalidArtifact(f"{p.name}: state dict without {', '.join(missing[:3])}")
    n = sum(1 for v in sd.values() if isinstance(v, torch.Tensor))
    if n < min_tensors:
        raise InvalidArtifact(f"{p.name}: {n} tensors, expected at least {min_tensors}")
    return sd


def mat_keys(path: str | os.PathLike[str], required: Iterable[str]) -> dict:
    """A MATLAB file whose ``required`` variables all load (a truncated variable fails to read)."""
    from scipy.io import loadmat

    p = Path(path)
    names = list(required)
    try:
        data = loadmat(str(p), variable_names=names or None)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for damaged files
        raise InvalidArtifact(f"{p.name} is not a complete MATLAB file ({type(exc).__name__}: {exc})") from None
    missing = [k for k in names if k not in data]
    if missing:
        raise InvalidArtifact(f"{p.name}: MATLAB file without {', '.join(missing)}")
    return data


def npy_dict_keys(path: str | os.PathLike[str], required: Iterable[str]) -> dict:
    """A pickled-dict ``.npy`` (numpy arrays only, loaded without running pickle code) with ``required`` keys."""
    from tfk.tdmm.bfm import load_npy_dict

    p = Path(path)
    data = load_npy_dict(p)
    missing = [k for k in required if k not in data]
    if missing:
        raise InvalidArtifact(f"{p.name}: dict without {', '.join(missing)}")
    return data


def text_numbers(path: str | os.PathLike[str], count: int) -> None:
    """A text file of exactly ``count`` numbers."""
    p = Path(path)
    try:
        values = [float(v) for v in p.read_text().split()]
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArtifact(f"{p.name} is not a text file of numbers ({exc})") from None
    if len(values) != count:
        raise InvalidArtifact(f"{p.name}: {len(values)} numbers, expected {count}")
