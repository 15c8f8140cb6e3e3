"""``tfk evaluate`` core: metrics of a generated video against a ground-truth video of the same length.

Both videos are decoded frame by frame in lock step (memory does not grow with clip length). Frame counts:

* equal: every frame is compared;
* differ by at most ``max(2, 1 % of the longer)`` frames: the longer is truncated to the shorter and
  ``frames_dropped`` records how many frames were left out;
* differ by more: :class:`tfk.errors.BadInput` naming both counts.

Different frame sizes: the generated frames are resized to the reference size (area interpolation when
shrinking, bilinear when enlarging) and the result notes it.

Metric names: ``psnr``, ``ssim``, ``lpips`` (AlexNet), ``lpips_vgg``, ``fid``, ``lmd`` (M-LMD + F-LMD),
``cpbd`` (generated, plus ``cpbd_reference``), ``lse`` (LSE-C, LSE-D, AV offset; audio = ``audio`` or the
generated video's own track). Definitions are in each metric's module docstring.

Weights: with ``metrics`` left at its default (:data:`DEFAULT_METRICS`) only weights already in the store
are used (nothing is downloaded) and a metric whose weights are missing, or whose toolbox extra is not
installed, is **skipped**: ``result["skipped"][name]`` says why and names ``tfk weights pull <id>``. When the
caller names metrics explicitly, public weights are fetched if missing (unless offline) and a metric that
still cannot run is an **error** for that metric only (``result["errors"][name]``); the other metrics are
computed regardless. Other failures of one metric (e.g. no face found) are always errors of that metric.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfk.errors import (
    BadInput,
    InputNotFound,
    MissingStream,
    MissingWeights,
    TempFail,
    TfkError,
    UsageError,
)

DEFAULT_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips", "lmd", "cpbd")
ALL_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips", "lpips_vgg", "fid", "lmd", "cpbd", "lse")
ALIASES = {"lpips_alex": "lpips", "sync": "lse", "lse_c": "lse", "lse_d": "lse", "lmd_mouth": "lmd"}

#: result key -> (unit, better, short definition)
METRIC_INFO: dict[str, tuple[str, str, str]] = {
    "psnr": ("dB", "higher", "mean per-frame 10·log10(255²/MSE), capped at 100 dB"),
    "ssim": ("", "higher", "Gaussian σ=1.5 SSIM, K=(0.01,0.03), L=255, channel mean (= scikit-image)"),
    "lpips": ("", "lower", "LPIPS v0.1 AlexNet, inputs in [-1,1], mean over frames"),
    "lpips_vgg": ("", "lower", "LPIPS v0.1 VGG16, inputs in [-1,1], mean over frames"),
    "fid": ("", "lower", "Fréchet distance of pytorch-fid InceptionV3 pool3 features over all frames"),
    "lmd_mouth": ("px", "lower", "mean L2 of mean-centred mouth landmarks 48-67"),
    "lmd_face": ("px", "lower", "mean L2 of mean-centred 68 landmarks"),
    "cpbd": ("", "higher", "CPBD sharpness of the generated frames (cpbd 1.0.7 definition)"),
    "cpbd_reference": ("", "higher", "CPBD sharpness of the reference frames"),
    "lse_d": ("", "lower", "SyncNet min mean distance over ±15 frame shifts"),
    "lse_c": ("", "higher", "SyncNet confidence: median - min distance"),
    "av_offset": ("frames", "", "best audio/video offset (positive: audio leads)"),
}


def frame_tolerance(n_a: int, n_b: int) -> int:
    return max(2, int(0.01 * max(n_a, n_b)))


def _normalise(metrics: Sequence[str] | str | None) -> tuple[list[str], bool]:
    if metrics is None:
        return list(DEFAULT_METRICS), False
    if isinstance(metrics, str):
        metrics = [m for m in metrics.replace(",", " ").split() if m]
    names: list[str] = []
    for m in metrics:
        key = ALIASES.get(m.strip().lower(), m.strip().lower())
        if key not in ALL_METRICS:
            raise UsageError(f"unknown metric {m!r}; choose from {', '.join(ALL_METRICS)}")
        if key not in names:
            names.append(key)
    if not names:
        raise UsageError("no metric selected")
    return names, True


# ---------------------------------------------------------------- media access (tfk.media)


def count_frames(path: str | Path) -> int:
    """Number of video frames (:func:`tfk.media.count_frames`)."""
    from tfk.media import count_frames as media_count

    return int(media_count(path))


def video_info(path: str | Path) -> tuple[int, int, float]:
    """(width, height, fps) of the first video stream (:func:`tfk.media.probe`)."""
    from tfk.media import probe

    info = probe(path)
    if not info.has_video:
        raise MissingStream(f"{path} has no video stream")
    return int(info.width or 0), int(info.height or 0), float(info.fps or 0.0)


# ---------------------------------------------------------------- evaluation


class _Outcome:
    def __init__(self, explicit: bool):
        self.explicit = explicit
        self.skipped: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def fail(self, name: str, err: Exception) -> None:
        unavailable = isinstance(err, (MissingWeights, TempFail, ImportError))
        msg = str(err) if not isinstance(err, ImportError) else f"toolbox extra not installed ({err})"
        if unavailable and not self.explicit:
            self.skipped[name] = msg
        else:
            self.errors[name] = msg


class _Mean:
    def __init__(self) -> None:
        self.total = 0.0
        self.n = 0

    def add(self, values) -> None:
        for v in values:
            self.total += float(v)
            self.n += 1

    @property
    def value(self) -> float:
        return self.total / self.n if self.n else math.nan


def evaluate_videos(
    generated: str | Path,
    reference: str | Path,
    metrics: Sequence[str] | str | None = None,
    audio: str | Path | None = None,
    device: str = "cpu",
    progress: Any = None,
    batch_size: int = 8,
    max_frames: int | None = None,
) -> dict[str, Any]:
    """Compare ``generated`` with ``reference`` (see the module docstring); returns a JSON-able dict.

    ``max_frames`` limits the frame metrics and LMD to the first N aligned frames (a quick look; the
    frame-count check still uses the full counts). ``progress`` is a :mod:`tfk.progress` reporter.
    """
    import cv2
    import numpy as np

    from tfk.media import iter_frames, load_audio

    names, explicit = _normalise(metrics)
    gen, ref = Path(generated), Path(reference)
    for p in (gen, ref):
        if not p.is_file():
            raise InputNotFound(f"video not found: {p}")
    n_gen, n_ref = count_frames(gen), count_frames(ref)
    if n_gen == 0 or n_ref == 0:
        raise BadInput(f"no video frames: generated has {n_gen}, reference has {n_ref}")
    tol = frame_tolerance(n_gen, n_ref)
    if abs(n_gen - n_ref) > tol:
        raise BadInput(
            f"frame counts differ too much: generated has {n_gen} frames, reference has {n_ref} "
            f"(at most {tol} can be dropped)"
        )
    n = min(n_gen, n_ref)
    if max_frames is not None:
        if max_frames < 1:
            raise UsageError(f"max_frames must be at least 1, got {max_frames}")
        n = min(n, max_frames)
    gw, gh, gfps = video_info(gen)
    rw, rh, rfps = video_info(ref)
    out = _Outcome(explicit)
    notes: list[str] = []
    result: dict[str, Any] = {
        "generated": str(gen),
        "reference": str(ref),
        "frames": n,
        "frames_generated": n_gen,
        "frames_reference": n_ref,
        "frames_dropped": abs(n_gen - n_ref),
        "size": [rw, rh],
        "fps": rfps,
        "requested": names,
        "metrics": {},
        "skipped": out.skipped,
        "errors": out.errors,
        "notes": notes,
    }
    if n < min(n_gen, n_ref):
        notes.append(f"limited to the first {n} frames (max_frames)")
    if n_gen != n_ref:
        longer = "generated" if n_gen > n_ref else "reference"
        notes.append(f"{longer} video truncated by {abs(n_gen - n_ref)} frame(s) to {n}")
    if (gw, gh) != (rw, rh):
        result["resized_generated_from"] = [gw, gh]
        notes.append(f"generated frames resized from {gw}x{gh} to the reference size {rw}x{rh}")
    if gfps and rfps and abs(gfps - rfps) > 1e-3:
        notes.append(f"frame rates differ: generated {gfps:g} fps, reference {rfps:g} fps")

    # networks (a missing one only disables its metric)
    nets: dict[str, Any] = {}
    for name, loader in (("lpips", "alex"), ("lpips_vgg", "vgg")):
        if name in names:
            try:
                from tfk.metrics.lpips import load_lpips

                nets[name] = load_lpips(loader, device=device, download=explicit)
            except (TfkError, ImportError) as err:
                out.fail(name, err)
    if "fid" in names:
        try:
            from tfk.metrics.fid import FeatureStats, load_inception

            nets["fid"] = load_inception(device, download=explicit)
            fid_g, fid_r = FeatureStats(), FeatureStats()
        except (TfkError, ImportError) as err:
            out.fail("fid", err)

    means = {k: _Mean() for k in ("psnr", "ssim", "lpips", "lpips_vgg", "cpbd", "cpbd_reference")}
    frame_metrics = [m for m in ("psnr", "ssim", "cpbd") if m in names] + [m for m in nets]

    def process(gb: list, rb: list) -> None:
        from tfk.metrics import image

        g, r = np.stack(gb), np.stack(rb)
        if "psnr" in names:
            means["psnr"].add(image.psnr_batch(g, r))
        if "ssim" in names:
            means["ssim"].add(image.ssim_batch(g, r))
        for key in ("lpips", "lpips_vgg"):
            if key in nets:
                from tfk.metrics.lpips import lpips_batch

                means[key].add(lpips_batch(nets[key], g, r, device))
        if "fid" in nets:
            from tfk.metrics.fid import inception_features

            fid_g.update(inception_features(nets["fid"], g, device))
            fid_r.update(inception_features(nets["fid"], r, device))
        if "cpbd" in names:
            from tfk.metrics.cpbd import cpbd

            means["cpbd"].add(cpbd(x) for x in g)
            means["cpbd_reference"].add(cpbd(x) for x in r)

    decoded = 0
    if frame_metrics:
        from tfk.progress import ensure

        ctx = ensure(progress).task("evaluate: frame metrics", total=n)
        task = ctx.__enter__()
        try:
            gb, rb = [], []
            for fg, fr in zip(iter_frames(gen, stop=n), iter_frames(ref, stop=n), strict=False):
                if fg.shape[:2] != (rh, rw):
                    interp = cv2.INTER_AREA if fg.shape[0] * fg.shape[1] > rw * rh else cv2.INTER_LINEAR
                    fg = cv2.resize(fg, (rw, rh), interpolation=interp)
                gb.append(fg)
                rb.append(fr)
                decoded += 1
                if len(gb) >= batch_size:
                    process(gb, rb)
                    task.advance(len(gb))
                    gb, rb = [], []
            if gb:
                process(gb, rb)
                task.advance(len(gb))
        finally:
            ctx.__exit__(None, None, None)
        if decoded < n:
            notes.append(f"only {decoded} of {n} frame pairs decoded")
            result["frames"] = decoded
        for key in ("psnr", "ssim", "lpips", "lpips_vgg", "cpbd", "cpbd_reference"):
            if means[key].n:
                result["metrics"][key] = means[key].value
        if "fid" in nets:
            from tfk.metrics.fid import frechet_distance

            try:
                result["metrics"]["fid"] = frechet_distance(*fid_g.mean_cov(), *fid_r.mean_cov())
            except ValueError as err:
                out.errors["fid"] = f"FID: {err}"
            if decoded < 2048:
                notes.append(f"FID over {decoded} frames (< 2048 features): covariance is rank-deficient")

    if "lmd" in names:
        try:
            from tfk.metrics.landmarks import video_lmd

            result["metrics"].update(video_lmd(gen, ref, n_frames=n, scale=(rw / gw, rh / gh)))
        except (TfkError, ImportError) as err:
            out.fail("lmd", err)

    if "lse" in names:
        try:
            from tfk.metrics.sync import lse

            wav = load_audio(audio if audio is not None else gen, sr=16000)
            if gfps and abs(gfps - 25.0) > 1e-3:
                notes.append(f"LSE assumes 25 fps; the generated video has {gfps:g} fps")
            sr = lse(iter_frames(gen), wav, device=device, download=explicit)
            result["metrics"].update({"lse_d": sr.lse_d, "lse_c": sr.lse_c, "av_offset": sr.offset})
        except (TfkError, ImportError) as err:
            out.fail("lse", err)
    return result


# ---------------------------------------------------------------- output


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_metrics(result: dict[str, Any], path: str | Path) -> Path:
    """Write ``result`` as JSON (NaN/inf -> null) to a temp name and rename it into place."""
    from tfk.fsutil import atomic_write_text

    return atomic_write_text(path, json.dumps(_jsonable(result), indent=2, allow_nan=False) + "\n")


def metrics_table(result: dict[str, Any]):
    """A rich table: one row per metric value, then skipped and failed metrics."""
    from rich.table import Table

    title = f"{Path(result.get('generated', '')).name} vs {Path(result.get('reference', '')).name}"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("better")
    table.add_column("definition / note")
    for key, value in result.get("metrics", {}).items():
        unit, better, definition = METRIC_INFO.get(key, ("", "", ""))
        text = str(value)
        if isinstance(value, float):
            text = f"{value:.4f}" if math.isfinite(value) else "n/a"
        table.add_row(key, f"{text} {unit}".strip(), better, definition)
    for key, why in result.get("skipped", {}).items():
        table.add_row(key, "skipped", "", why, style="dim")
    for key, why in result.get("errors", {}).items():
        table.add_row(key, "error", "", why, style="red")
    dropped = result.get("frames_dropped", 0)
    table.caption = f"{result.get('frames', 0)} frames" + (f", {dropped} dropped" if dropped else "")
    return table
