"""Training presets: ``paper`` (the original schedule), ``fast`` (a quicker usable model), ``tiny`` (CPU tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from tfk.errors import UsageError

STAGES = ("head", "lips", "torso")


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "paper"
    iters_head: int = 100_000  #: head stage ends at this global step
    iters_lips: int = 125_000  #: lips stage continues the head run up to this global step
    iters_torso: int = 200_000
    num_rays: int = 65536  #: rays per step (one image per step)
    patch_size: int = 32  #: lips stage, patch steps: patches of this size
    lips_patches: int = 64  #: ... and this many of them (65536 / 32^2)
    lr: float = 1e-2
    lr_net: float = 1e-3
    update_extra_interval: int = 16
    grid_eval_res: int | None = None  #: None = every 128^3 cell (original); a divisor of 128 = coarser
    ema_decay: float = 0.95
    ema_update_interval: int = 1000
    eval_interval: int | None = None  #: epochs; None = max(1, 5000 // len(train)) as the original
    eval_frames: int = 100
    keep_checkpoints: int = 2
    fp16: bool = True  #: autocast + GradScaler on CUDA (``-O``); CPU always trains in fp32
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "fast": TrainConfig(
        preset="fast", iters_head=20_000, iters_lips=25_000, iters_torso=20_000, num_rays=16384, lips_patches=16
    ),
    "tiny": TrainConfig(
        preset="tiny",
        iters_head=30,
        iters_lips=36,
        iters_torso=10,
        num_rays=256,
        patch_size=8,
        lips_patches=2,
        update_extra_interval=8,
        grid_eval_res=16,
        ema_update_interval=5,
        eval_interval=1000,
        eval_frames=1,
    ),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
