"""Schedules of the two personalisation stages: ``paper`` (the original flags) and ``tiny`` (smoke size)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AudioConfig:
    """``atcnet.py`` as ``train_19news_1.py`` runs it (--lr 1e-4 --max_epochs 100 --less_constrain --smooth_loss*)."""

    epochs: int = 100
    batch_size: int = 16
    seq_len: int = 16
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_pose: float = 0.2
    lambda_smooth: float = 0.01
    lambda_smooth2: float = 1e-4
    max_steps: int | None = None  # per epoch (None: the whole loader)
    seed: int = 0


@dataclass(frozen=True)
class GanConfig:
    """``train.py --model memory_seq --lambda_mask 2 --lr 1e-4 --niter 60 --niter_decay 0`` (batch 1, Nw 3)."""

    epochs: int = 60
    lr: float = 1e-4
    beta1: float = 0.5
    lambda_l1: float = 100.0
    lambda_mask: float = 2.0
    lambda_mask_smooth: float = 1e-5
    iden_thres: float = 0.98
    load_size: int = 286
    crop_size: int = 256
    max_steps: int | None = None
    seed: int = 0


PRESETS = {
    "paper": (AudioConfig(), GanConfig()),
    "tiny": (
        AudioConfig(epochs=2, batch_size=2, seq_len=8, max_steps=3),
        GanConfig(epochs=2, max_steps=2),
    ),
}


def preset(name: str, **overrides) -> tuple[AudioConfig, GanConfig]:
    from tfk.errors import UsageError

    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r} (paper or tiny)")
    a, g = PRESETS[name]
    return replace(a, **overrides.get("audio", {})), replace(g, **overrides.get("gan", {}))
