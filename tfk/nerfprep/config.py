"""Settings of the shared AD-NeRF preprocessing (one dataclass; the plugins fill it from their options)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from tfk.errors import UsageError

LAYOUTS = ("ernerf", "dfrf")
AUDIO_FEATURES = ("deepspeech", "hubert", "wav2vec")
#: DFRF's fixed reference frames (``refer_from_train``): training frames 50, 100, 150, 200
DFRF_REFERENCES = (50, 100, 150, 200)
#: the original face tracker needs this many frames (``int(N/32)`` batches)
MIN_FRAMES = 32
#: :class:`tfk.tdmm.tracker.TrackerConfig` overrides per ``--track-preset``
TRACK_PRESETS: dict[str, dict] = {
    "paper": {},
    "fast": {"iters_scale": 0.25, "focal_refine_iters": 300, "joint_iters": 200},
    "tiny": {
        "iters_scale": 0.02,
        "focal_candidates": (900.0, 1100.0, 1300.0),
        "focal_frame_step": 10,
        "focal_refine": 0,
        "lbfgs_iters": 0,
        "joint_iters": 0,
        "smooth_iters": 30,
        "light_iters": 4,
        "fine_iters": 3,
    },
}


@dataclass(frozen=True)
class PrepConfig:
    """What the preprocessing does. ``layout`` picks the on-disk layout and the model's conventions.

    ``ernerf``: ER-NeRF / Avatar layout (``gt_imgs``, RGBA ``torso_imgs/*.png``, ``aud_ds|hu|eo.npy``, ``au.csv``,
    10/11 split). ``dfrf``: DFRF's ``0/`` identity folder (``com_imgs``, ``head_imgs``, 3-channel
    ``torso_imgs/*.jpg``, ``aud.npy``, ``config.txt``, 1/2 split, focal fixed at 1300, reference frames).
    """

    layout: str = "ernerf"
    fps: int = 25
    max_seconds: float | None = None  #: length cap (Avatar: 600 s)
    min_frames: int = MIN_FRAMES
    matting: str = "rvm"  #: "rvm" | "none"
    matting_weights: Path | None = None  #: an explicit rvm_mobilenetv3.pth (default: the weights store)
    background: tuple[int, int, int] = (128, 128, 128)  #: RGB behind the matted person (Avatar default "gray")
    head_size: int = 512
    head_crop: str = "auto"  #: "auto" (Avatar square head box; a head crop is used as is) | "none"
    audio_features: str = "deepspeech"
    audio_model: Path | None = None  #: explicit DeepSpeech graph / HF snapshot directory (default: the store)
    landmarks: str = "dlib"
    landmark_smooth: float = 0.0
    max_missing: float = 0.1
    parsing: str = "auto"  #: "auto" (BiSeNet when its weights are present) | "bisenet" | "fallback"
    blinks: str = "auto"  #: "auto" (OpenFace when on PATH, else the landmark estimate) | "openface" | "ear"
    tracking: str = "full"  #: "full" (photometric stages) | "landmarks"
    track_preset: str = "paper"  #: "paper" (the original's iterations) | "fast" | "tiny" (CPU tests, demos)
    focal: float | None = None  #: fixed focal (DFRF: 1300); None = the original focal search
    bfm: Path | None = None  #: ``adnerf_3dmm.npz`` (default: derived from the imported BFM 2009)
    split: Fraction = Fraction(10, 11)
    references: tuple[int, ...] | None = None  #: DFRF reference frames (training frame indices)
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    @classmethod
    def for_model(cls, layout: str, **overrides) -> PrepConfig:
        """The model's defaults (DFRF: 1/2 split, focal 1300, DeepSpeech only) with ``overrides`` applied."""
        if layout not in LAYOUTS:
            raise UsageError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
        base = cls(layout=layout)
        if layout == "dfrf":
            base = replace(base, split=Fraction(1, 2), focal=1300.0)
        cfg = replace(base, **{k: v for k, v in overrides.items() if v is not None})
        cfg.check()
        return cfg

    def check(self) -> None:
        def one_of(name: str, value, allowed) -> None:
            if value not in allowed:
                raise UsageError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, not {value!r}")

        one_of("layout", self.layout, LAYOUTS)
        one_of("matting", self.matting, ("rvm", "none"))
        one_of("head_crop", self.head_crop, ("auto", "none"))
        one_of("audio_features", self.audio_features, AUDIO_FEATURES if self.layout == "ernerf" else ("deepspeech",))
        one_of("parsing", self.parsing, ("auto", "bisenet", "fallback"))
        one_of("blinks", self.blinks, ("auto", "openface", "ear"))
        one_of("tracking", self.tracking, ("full", "landmarks"))
        if self.fps <= 0:
            raise UsageError(f"fps must be positive, got {self.fps}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise UsageError(f"--max-seconds must be positive, got {self.max_seconds}")
        if self.head_size < 32 or self.head_size % 2:
            raise UsageError(f"--head-size must be an even number >= 32, got {self.head_size}")
        if self.layout == "dfrf" and (self.head_size * self.head_size) % 1024:
            raise UsageError(
                f"DFRF renders in chunks of 1024 rays: --head-size {self.head_size} squared is not a "
                "multiple of 1024 (use a multiple of 32)"
            )
        if not 0 < self.split <= 1:
            raise UsageError(f"train split must be in (0, 1], got {float(self.split)}")
        one_of("track_preset", self.track_preset, tuple(TRACK_PRESETS))
        if self.references is not None and (len(self.references) != 4 or any(r < 0 for r in self.references)):
            raise UsageError(f"--references needs four frame indices i,j,k,l >= 0, got {self.references}")
        if any(not 0 <= c <= 255 for c in self.background) or len(self.background) != 3:
            raise UsageError(f"--background must be three values 0-255, got {self.background}")


def parse_references(text: str | None) -> tuple[int, ...] | None:
    """``"50,100,150,200"`` -> ``(50, 100, 150, 200)``; ``None``/``""``/``"auto"`` -> ``None``."""
    if text is None or str(text).strip() in ("", "auto"):
        return None
    try:
        refs = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise UsageError(f"--references must be four comma-separated frame indices, not {text!r}") from None
    if len(refs) != 4 or any(r < 0 for r in refs):
        raise UsageError(f"--references must be four comma-separated frame indices >= 0, not {text!r}")
    return refs


def parse_rgb(text: str | tuple | None) -> tuple[int, int, int] | None:
    """``"128,128,128"`` (or a name: gray, green, white, black, blue) -> an RGB tuple."""
    if text is None:
        return None
    if isinstance(text, tuple):
        return text  # type: ignore[return-value]
    names = {
        "gray": (128, 128, 128),
        "grey": (128, 128, 128),
        "green": (0, 255, 0),
        "white": (255, 255, 255),
        "black": (0, 0, 0),
        "blue": (0, 0, 255),
    }
    t = str(text).strip().lower()
    if t in names:
        return names[t]
    try:
        rgb = tuple(int(v) for v in t.strip("()").split(","))
    except ValueError:
        raise UsageError(f"--background must be R,G,B or one of {', '.join(names)}, not {text!r}") from None
    if len(rgb) != 3 or any(not 0 <= c <= 255 for c in rgb):
        raise UsageError(f"--background must be three values 0-255, not {text!r}")
    return rgb  # type: ignore[return-value]
