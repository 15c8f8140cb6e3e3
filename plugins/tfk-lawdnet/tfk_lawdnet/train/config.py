"""Stage configurations of LawDNet's coarse-to-fine training and the ``paper`` / ``tiny`` presets.

``paper`` follows the original (reference notes §3): frame stages at mouth 64, 128, 256 (5 + 5 epochs each,
augment 32/100/20, batch 16/8/4 per process), then the clip stage at mouth 288 (85 + 85 epochs, augment 3,
batch 1); AdamW lr 1e-4; losses MSE x1 + VGG19 perceptual x10 + LSGAN image D x1, the clip stage adds the
video D x1 and the SyncNet loss x0.1; LR constant for ``non_decay`` epochs then linear decay; control grid 60;
fp16 autocast + GradScaler on CUDA. Each stage starts from the previous stage's final generator.

``tiny`` keeps the four stage names but runs them all at mouth 64 with control grid 8, a narrow random-weight
VGG and a random SyncNet, batch 1, 2 epochs x 2 steps each (checkpoints at epoch ends): it exercises the
whole pipeline on CPU in about a minute.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

__all__ = ["PRESETS", "STAGE_NAMES", "StageConfig", "preset"]

STAGE_NAMES = ("frame64", "frame128", "frame256", "clip288")


@dataclass(frozen=True)
class StageConfig:
    name: str
    kind: str  # "frame" | "clip"
    mouth: int
    batch: int  # per process
    augment_num: int  # samples per epoch = augment_num x number of videos
    non_decay: int
    decay: int
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    lamb_pixel: float = 1.0
    lamb_perception: float = 10.0
    lamb_g_di: float = 1.0
    lamb_g_dv: float = 1.0
    lamb_sync: float = 0.1
    grid: int = 60
    frontend: str | None = None  # generator audio features; None: dp2 when the data has it, else dp1
    sync_frontend: str | None = "dp1"  # SyncNet audio features (the published SyncNet needs dp1); None: as above
    sync_size: int = 256
    vgg: str = "imagenet"  # "imagenet" (store artifact) | "random"
    vgg_width: int = 1
    syncnet: str = "pretrained"  # "pretrained" (store artifact) | "random"
    amp: bool = True  # fp16 autocast + GradScaler, CUDA only
    max_steps_per_epoch: int | None = None
    num_workers: int = 2
    seed: int = 456
    save_every: int = 500  # steps between rolling checkpoints (also at every epoch end)
    image_every: int = 300  # steps between TensorBoard image grids

    @property
    def epochs(self) -> int:
        return self.non_decay + self.decay

    def fingerprint(self) -> str:
        """Hash of everything that changes the result (not logging/checkpoint cadence)."""
        d = asdict(self)
        for k in ("save_every", "image_every", "num_workers"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return asdict(self)


_PAPER = (
    StageConfig("frame64", "frame", 64, 16, 32, 5, 5),
    StageConfig("frame128", "frame", 128, 8, 100, 5, 5),
    StageConfig("frame256", "frame", 256, 4, 20, 5, 5),
    StageConfig("clip288", "clip", 288, 1, 3, 85, 85),
)

_TINY_COMMON = dict(
    mouth=64,
    augment_num=4,
    non_decay=1,
    decay=1,
    grid=8,
    vgg="random",
    vgg_width=16,
    sync_frontend=None,
    syncnet="random",
    sync_size=64,
    max_steps_per_epoch=2,
    num_workers=0,
    save_every=0,
    image_every=2,
)
_TINY = tuple(StageConfig(name=s.name, kind=s.kind, batch=1, **_TINY_COMMON) for s in _PAPER)

PRESETS: dict[str, tuple[StageConfig, ...]] = {"paper": _PAPER, "tiny": _TINY}


def preset(name: str, **overrides) -> tuple[StageConfig, ...]:
    """The stages of a preset, with optional field overrides applied to every stage."""
    from tfk.errors import UsageError

    if name not in PRESETS:
        raise UsageError(f"unknown training preset {name!r} (choose from {', '.join(PRESETS)})")
    return tuple(replace(s, **overrides) for s in PRESETS[name]) if overrides else PRESETS[name]
