"""Shared training helpers: TensorBoard (when installed), atomic state files."""

from __future__ import annotations

from pathlib import Path


class Scalars:
    """TensorBoard scalars when ``tensorboard`` is importable; otherwise a no-op."""

    def __init__(self, log_dir: Path | None):
        self.w = None
        if log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.w = SummaryWriter(str(log_dir))
            except ImportError:
                self.w = None

    def add(self, tag: str, value: float, step: int) -> None:
        if self.w is not None:
            self.w.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


def load_state(path: Path) -> dict | None:
    import torch

    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
