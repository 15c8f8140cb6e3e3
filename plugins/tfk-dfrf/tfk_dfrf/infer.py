"""``tfk infer dfrf``: any audio -> DeepSpeech windows -> rendered frames -> H.264 + AAC MP4.

Frame count = the number of DeepSpeech windows, ``ceil((round(50 T) - 1) / 2)`` (25 per second of audio).
Poses and per-frame backgrounds come from the subject's val split, in ping-pong order when the audio is
longer than the split (the original stops at the split's length). Frames are rendered one at a time into a
resumable frame cache next to the output (an interrupted run continues where it stopped), then streamed
into :class:`tfk.media.VideoWriter`, which writes to a temporary name and renames on success.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tfk.errors import BadInput, UsageError

__all__ = ["FeatureFn", "audio_features", "checkpoint_dir", "infer", "latest_checkpoint", "pingpong", "render_frames"]

FeatureFn = Callable[[np.ndarray, int], np.ndarray]
NOSMO_ITERS = 100_000


def pingpong(n: int, length: int) -> list[int]:
    """``n`` indices walking ``0..length-1`` forth and back (0 1 2 1 0 1 ...)."""
    if length <= 0:
        raise BadInput("no poses to render")
    if length == 1:
        return [0] * n
    period = 2 * length - 2
    return [i % period if i % period < length else period - i % period for i in range(n)]


def audio_features(
    audio: str | os.PathLike[str],
    features: str | os.PathLike[str] | None = None,
    feature_fn: FeatureFn | None = None,
    require: Callable[[str], Path] | None = None,
) -> np.ndarray:
    """DeepSpeech windows ``[N, 16, 29]``: from ``features`` (a saved ``.npy``), ``feature_fn``, or DeepSpeech v0.1."""
    if features is not None:
        x = np.load(features)
    else:
        from tfk.audio import load

        wav = load(audio, sr=16000)
        if wav.size < 16000 // 25:
            raise BadInput(f"{audio}: audio shorter than one video frame")
        if feature_fn is None:
            from tfk.audio.deepspeech_tf import ARTIFACT_ID, DeepSpeechV01

            graph = require(ARTIFACT_ID) if require is not None else None
            with DeepSpeechV01(graph) as ds:
                x = ds.features(wav, 16000, layout="adnerf")
        else:
            x = feature_fn(wav, 16000)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or x.shape[1:] != (16, 29) or x.shape[0] == 0:
        raise BadInput(f"DFRF needs DeepSpeech windows [N, 16, 29], got {list(x.shape)}")
    return x


def _settings_digest(d: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def render_frames(
    subject,
    model,
    ck: dict,
    feats: np.ndarray,
    quality: str = "exact",
    references: str = "auto",
    seed: int = 0,
    noise: bool = True,
    chunk: int | None = None,
    smooth: str = "auto",
    device: str = "cpu",
    split: str = "val",
    skip: frozenset[int] | set[int] = frozenset(),
):
    """Yield ``(index, uint8 RGB frame)`` for every audio window; poses/backgrounds of ``split`` in ping-pong order."""
    import torch

    from tfk_dfrf.models.audio import audio_codes
    from tfk_dfrf.render.renderer import QUALITIES, References, Renderer

    if quality not in QUALITIES:
        raise UsageError(f"--quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    dev = torch.device(device)
    ref_idx = subject.reference_indices(references)
    tr = subject.train
    ref_imgs = torch.as_tensor(np.stack([subject.image(tr.img_ids[i]) for i in ref_idx]), dtype=torch.float32) / 255
    ref_poses = torch.as_tensor(tr.poses[ref_idx][:, :3, :4])
    use_smooth = (int(ck["global_step"]) >= NOSMO_ITERS) if smooth == "auto" else smooth == "on"
    with torch.no_grad():
        codes = audio_codes(model.audnet, model.audattnet, torch.as_tensor(feats, device=dev), use_smooth)
        refs = References(model, ref_imgs.to(dev), ref_poses.to(dev), subject.focal)
    renderer = Renderer(
        model, refs, subject.near, subject.far, QUALITIES[quality].with_chunk(chunk), noise=noise, seed=seed
    )
    sp = subject.splits[split]
    order = pingpong(len(feats), len(sp.img_ids))
    for i, j in enumerate(order):
        if i in skip:
            continue
        bc = torch.as_tensor(subject.background(sp.img_ids[j]), dtype=torch.float32, device=dev) / 255
        c2w = torch.as_tensor(sp.poses[j][:3, :4], device=dev)
        rgb = renderer.render(c2w, codes[i], bc, subject.focal, subject.cx, subject.cy, frame_index=i)
        yield i, (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()


def infer(
    subject_dir: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    audio: str | os.PathLike[str],
    output: str | os.PathLike[str],
    quality: str = "exact",
    references: str = "auto",
    seed: int = 0,
    noise: bool = True,
    chunk: int | None = None,
    smooth: str = "auto",
    device: str = "cpu",
    features: str | os.PathLike[str] | None = None,
    feature_fn: FeatureFn | None = None,
    require: Callable[[str], Path] | None = None,
    progress: Any = None,
) -> Path:
    """Render ``audio`` with the subject's fine-tuned ``checkpoint`` into ``output`` (MP4 with the audio)."""
    import cv2

    from tfk.fsutil import atomic_write_json
    from tfk.media import VideoWriter
    from tfk_dfrf.data import Subject
    from tfk_dfrf.models.dfrf import load_dfrf

    output = Path(output)
    subject = Subject(subject_dir)
    subject.reference_indices(references)  # fail early on a short clip
    model, ck = load_dfrf(checkpoint, device)
    feats = audio_features(audio, features, feature_fn, require)
    settings = {
        "checkpoint": str(Path(checkpoint).resolve()),
        "step": int(ck["global_step"]),
        "audio": str(audio),
        "n": len(feats),
        "quality": quality,
        "references": references,
        "seed": seed,
        "noise": noise,
        "smooth": smooth,
        "subject": str(subject.dir),
    }
    cache = output.parent / f".{output.name}.dfrf-frames"
    stamp = cache / "settings.json"
    if cache.is_dir() and (
        not stamp.is_file() or json.loads(stamp.read_text()).get("digest") != _settings_digest(settings)
    ):
        shutil.rmtree(cache)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write_json(stamp, {"digest": _settings_digest(settings), **settings})
    done = {int(p.stem) for p in cache.glob("*.png")}
    todo = [i for i in range(len(feats)) if i not in done]
    if todo:
        frames = render_frames(
            subject, model, ck, feats, quality, references, seed, noise, chunk, smooth, device, skip=done
        )
        for i, frame in frames:
            tmp = cache / f"{i:06d}.tmp.png"
            cv2.imwrite(str(tmp), frame[:, :, ::-1])
            os.replace(tmp, cache / f"{i:06d}.png")
            if progress is not None and hasattr(progress, "advance"):
                progress.advance(1)
    with VideoWriter(output, fps=25, audio=audio) as vw:
        for i in range(len(feats)):
            vw.write(np.ascontiguousarray(cv2.imread(str(cache / f"{i:06d}.png"))[:, :, ::-1]))
    shutil.rmtree(cache, ignore_errors=True)
    return output


def checkpoint_dir(subject_root: str | os.PathLike[str]) -> Path:
    """Where ``tfk train dfrf --uid X`` keeps the subject's ``*_head.tar``."""
    return Path(subject_root) / "checkpoints"


def latest_checkpoint(subject_root: str | os.PathLike[str]) -> Path:
    from tfk.errors import InputNotFound
    from tfk_dfrf.models.dfrf import head_checkpoints

    found = list(head_checkpoints(checkpoint_dir(subject_root)))
    if not found:
        raise InputNotFound(
            f"no DFRF checkpoint in {checkpoint_dir(subject_root)}", hint="run `tfk train dfrf --uid ...` first"
        )
    return found[-1]
