"""Training presets: ``paper`` = the original ``configs/video_warper_trainer.yaml`` / ``video_styleheat_trainer.yaml``
hyper-parameters; ``tiny`` = the same code at smoke size (narrow networks, a few iterations, larger lr)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tfk.errors import UsageError

__all__ = ["Config", "preset"]


@dataclass(frozen=True)
class Config:
    stage: str  # "warper" | "full"
    batch_size: int
    lr: float
    max_epoch: int
    iterations: int | None  # stop early (None: max_epoch epochs)
    image_size: int  # data resolution (warper 256, full 512)
    imsize: int  # stage-2 output size of the generator
    snapshot_every: int
    log_every: int
    narrow: float = 1.0  # warper width for a from-scratch stage 1 (1.0 = published)
    betas: tuple[float, float] = (0.5, 0.999)
    step_size: int = 300_000
    gamma: float = 0.2
    ema_decay: float = 0.5 ** (32 / 10_000)
    vgg: str = "imagenet"  # "imagenet" (styleheat/vgg19 artifact) | "random" (narrow, random: tiny smoke runs)
    # stage-2 loss weights (video_styleheat_trainer.yaml)
    w_perceptual_warp: float = 0.02
    w_perceptual_final: float = 0.2
    w_perceptual_regular: float = 0.01
    w_gan: float = 1.0
    w_local: float = 2.0
    style_weight: float = 250.0
    seed: int = 0
    tensorboard: bool = True  # when the package is installed
    fixed_batch: bool = False  # draw the same batch every iteration (overfitting checks)


_PAPER = {
    "warper": Config("warper", 16, 1e-4, 200, None, 256, 256, 20_000, 100),
    "full": Config("full", 4, 1e-4, 8, None, 512, 512, 20_000, 100),
}
_TINY = {
    "warper": Config("warper", 2, 1e-3, 1000, 6, 64, 64, 3, 1, narrow=1 / 16, vgg="random"),
    "full": Config("full", 2, 1e-3, 1000, 4, 256, 128, 2, 1, vgg="random"),
}


def preset(name: str, stage: str, **overrides) -> Config:
    table = {"paper": _PAPER, "tiny": _TINY}.get(name)
    if table is None or stage not in table:
        raise UsageError(f"unknown preset/stage {name!r}/{stage!r} (paper|tiny, warper|full)")
    return replace(table[stage], **{k: v for k, v in overrides.items() if v is not None})
