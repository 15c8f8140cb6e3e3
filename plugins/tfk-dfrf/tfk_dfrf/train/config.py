"""Training presets (``paper`` = the original defaults and the generated fine-tune config)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tfk.errors import UsageError


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 10_000  # fine-tune iterations after the start step (paper: 10k-40k); base: total
    n_rand: int = 850  # rays per step
    sample_rate: float = 0.95  # share of the rays inside face_rect
    n_samples: int = 64
    n_importance: int = 128
    lrate: float = 5e-4
    lrate_decay: int = 500  # x1500 steps for a 10x decay
    nosmo_iters: int = 100_000  # audio smoothing (AudAttNet) from this global step on
    smooth: str = "auto"  # auto: from nosmo_iters; on / off: force
    l2_weight: float = 5e-8  # L2loss_weight of the generated config (original default 5e-9)
    num_refs: int = 4
    near_far_from_data: bool = True
    chunk: int = 1024 * 4  # rays per forward in training (memory only; any value)
    i_weights: int = 5000  # checkpoint period
    i_print: int = 100
    face_rect_transposed: bool = False  # True reproduces the original's (row, col) vs (x, y) rect test
    seed: int = 0


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "fast": TrainConfig(steps=5000, n_rand=512, n_samples=32, n_importance=64, i_weights=1000),
    "tiny": TrainConfig(steps=20, n_rand=64, n_samples=8, n_importance=8, i_weights=10, i_print=5, nosmo_iters=10**9),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    cfg = PRESETS[name]
    fields = set(TrainConfig.__dataclass_fields__)
    bad = sorted(set(overrides) - fields)
    if bad:
        raise UsageError(f"unknown training setting(s): {', '.join(bad)}")
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if cfg.smooth not in ("auto", "on", "off"):
        raise UsageError(f"--smooth must be auto, on or off, got {cfg.smooth!r}")
    return cfg


def learning_rate(cfg: TrainConfig, global_step: int) -> float:
    """The original schedule ``lrate * 0.1 ** (step / (lrate_decay * 1500))``."""
    return cfg.lrate * 0.1 ** (global_step / (cfg.lrate_decay * 1500))
