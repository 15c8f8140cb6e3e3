"""One device resolver for the CLI, the stage runner, the toolboxes and the plugins."""

from __future__ import annotations

import importlib.util

from tfk import errors

__all__ = ["resolve_device"]


def resolve_device(device: object = "auto") -> str:
    """A validated torch device string.

    ``auto`` (or ``None``) -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda``/``cuda:N`` without
    that GPU and an unavailable ``mps`` are :class:`~tfk.errors.DeviceUnavailable`; anything else is a
    :class:`~tfk.errors.UsageError`. Accepts a ``torch.device`` too. Imports torch only when needed.
    """
    dev = str(device if device is not None else "auto").strip().lower()
    if dev == "cpu":
        return dev
    has_torch = importlib.util.find_spec("torch") is not None
    if dev == "auto":
        if not has_torch:
            return "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda" or dev.startswith("cuda:"):
        if not has_torch:
            raise errors.DeviceUnavailable(f"--device {dev} needs torch, which is not installed")
        import torch

        if not torch.cuda.is_available():
            raise errors.DeviceUnavailable(f"--device {dev}: no CUDA GPU is available here", hint="use --device cpu")
        idx = dev.partition(":")[2]
        if idx and (not idx.isdigit() or int(idx) >= torch.cuda.device_count()):
            raise errors.DeviceUnavailable(f"--device {dev}: no such CUDA device ({torch.cuda.device_count()} visible)")
        return dev
    if dev == "mps":
        import torch

        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise errors.DeviceUnavailable("--device mps: MPS is not available here", hint="use --device cpu")
        return dev
    raise errors.UsageError(f"unknown --device {device!r}: use cpu, cuda, cuda:N, mps or auto")
