"""LawDNet training: coarse-to-fine stages (frame64, frame128, frame256, clip288), resumable, DDP-capable.

``from tfk_lawdnet.train import train`` is cheap; torch is imported when ``train`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["train"]


def train(data_root: str | Path, out_dir: str | Path, **kwargs: Any) -> Path:
    """See :func:`tfk_lawdnet.train.runner.train`."""
    from tfk_lawdnet.train.runner import train as _train

    return _train(data_root, out_dir, **kwargs)
