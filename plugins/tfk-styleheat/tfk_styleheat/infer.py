"""``tfk infer styleheat``: the five modes of the original, streamed in batches and muxed with the driving audio.

Modes (chosen from the inputs): ``cross`` (``--image`` + ``--video``), ``same`` (``--video`` only), ``audio``
(``--image`` + ``--audio``; the original's mandatory ``--cross_id`` is not needed), ``edit`` (``--edit
young|old|beard|lip`` with ``--image`` + ``--video``) and ``pose`` (``--pose yaw=15,pitch=-5`` with ``--image``).

Fixed against the original: the audio mode no longer needs ``--cross_id``; the broken ``load`` inversion is not
offered (``encode`` | ``optimize``); the attribute-edit ramp applies batch *i*'s factor to batch *i* (the
original rendered batch *i* with the edit of batch *i−1*, so the first batch was never edited); the source is
always cropped with the frame-0 quad (the original only cropped on a cold cache); the audio pose style and
blinks are seeded (``--seed``, ``--pose-style``) instead of ``random``; clips shorter than SadTalker's
13-frame smoothing window or 32-frame pose chunk work; CPU is supported; output is H.264 + AAC with the
driving audio (A/V within one frame) instead of an ``mp4v`` file muxed by a shell ``ffmpeg``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tfk.errors import BadInput, UsageError
from tfk_styleheat import artifacts as arts
from tfk_styleheat.inputs import Prepared, SemanticsExtractor, prepare_image, prepare_video, windows
from tfk_styleheat.models.styleheat import Inversion, StyleHEAT

__all__ = ["Engine", "choose_mode", "infer", "load_engine", "optimize_inversion", "parse_pose", "render"]

EDITS = ("young", "old", "beard", "lip")
POSE_KEYS = {"pitch": 64, "yaw": 65, "roll": 66, "tx": 67, "ty": 68, "tz": 69}


def choose_mode(image, video, audio, edit, pose) -> str:
    if pose:
        if image is None or video is not None or audio is not None:
            raise UsageError("--pose edits a portrait: give --image only (no --video / --audio)")
        return "pose"
    if edit:
        if edit not in EDITS:
            raise UsageError(f"--edit must be one of {', '.join(EDITS)}, not {edit!r}")
        if image is None or video is None:
            raise UsageError("--edit needs --image and a driving --video")
        return "edit"
    if audio is not None:
        if image is None or video is not None:
            raise UsageError("audio-driven mode takes --image and --audio (not --video)")
        return "audio"
    if video is not None:
        return "cross" if image is not None else "same"
    raise UsageError("give --video (same identity), --image + --video, --image + --audio, or --image + --pose")


def parse_pose(text: str) -> dict[str, float]:
    """``"yaw=15,pitch=-5,exp3=0.5"`` -> changes: yaw/pitch/roll in degrees, tx/ty/tz, expK (K in 0..63)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        try:
            v = float(val)
        except ValueError:
            v = math.nan
        ok_key = key in POSE_KEYS or (key.startswith("exp") and key[3:].isdigit() and int(key[3:]) < 64)
        if not sep or not ok_key or not math.isfinite(v):
            raise UsageError(f"--pose: cannot read {part!r} (use yaw=DEG,pitch=DEG,roll=DEG,tx=,ty=,tz=,expK=)")
        out[key] = v
    if not out:
        raise UsageError("--pose is empty (e.g. --pose yaw=15,pitch=-5)")
    return out


def pose_target(source: np.ndarray, changes: dict[str, float]) -> np.ndarray:
    t = source.copy()
    for k, v in changes.items():
        if k in ("pitch", "yaw", "roll"):
            t[POSE_KEYS[k]] += math.radians(v)
        elif k in POSE_KEYS:
            t[POSE_KEYS[k]] += v
        else:
            t[int(k[3:])] += v
    return t


@dataclass
class Engine:
    """The loaded networks (StyleHEAT, optionally the edit directions and SadTalker)."""

    model: StyleHEAT
    device: str
    exp_net: Any = None
    pose_net: Any = None
    pca_npz: dict | None = None
    perceptual: Any = None  # VGG19 perceptual + style loss of the optimize inversion (ImageNet VGG present)
    info: dict = field(default_factory=dict)


def _empty(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    with torch.device("meta"):
        m = build()
    return m.to_empty(device="cpu")


def load_engine(
    require: Callable[[str], Path],
    device: str = "cpu",
    edit: str | None = None,
    audio: bool = False,
    optimize: bool = False,
) -> Engine:
    """Build StyleHEAT at the size/width the StyleGAN checkpoint has and load every file strictly."""
    from tfk_styleheat.models import checkpoint as ck

    sg = ck.load_torch(require(arts.STYLEGAN))
    if not isinstance(sg, dict) or "input.input" not in sg:
        from tfk.errors import InvalidArtifact

        raise InvalidArtifact("StyleGAN_e4e.pth: not a rosinality generator state dict")
    narrow = sg["input.input"].shape[1] / 512
    size = 2 ** (2 + sum(1 for k in sg if k.startswith("to_rgbs.") and k.count(".") == 2 and k.endswith(".bias")))
    style_dim = int(sg["style.1.weight"].shape[0])
    model = _empty(lambda: StyleHEAT(size, narrow, style_dim))
    ck.load_state(model.generator.stylegan, sg, "StyleGAN_e4e.pth")
    ck.load_e4e(model.generator.e4e_encoder, require(arts.E4E))
    ck.load_hfgi(model.generator.hfgi_aligner, model.generator.hfgi_encoder, require(arts.HFGI))
    ck.load_visual(model, require(arts.VISUAL))
    editor = model.generator.editor
    if edit in ("young", "old"):
        editor.age = ck.load_torch(require(arts.INTERFACEGAN_AGE))
    elif edit in ("beard", "lip"):
        editor.pca = ck.load_torch(require(arts.FFHQ_PCA))
    eng = Engine(model.eval().to(device), device, info={"size": size, "narrow": narrow})
    if audio:
        from tfk_styleheat.models.sadtalker import Audio2Exp, Audio2Pose

        narrow_a = 1.0
        exp_sd = ck.load_torch(require(arts.AUDIO2EXP))
        if isinstance(exp_sd, dict) and "model" in exp_sd:
            w = exp_sd["model"].get("netG.audio_encoder.0.conv_block.0.weight")
            narrow_a = w.shape[0] / 32 if w is not None else 1.0
        eng.exp_net = _empty(lambda: Audio2Exp(narrow_a))
        ck.load_sadtalker(eng.exp_net, require(arts.AUDIO2EXP), "auido2exp_00300-model.pth")
        eng.pose_net = _empty(lambda: Audio2Pose(narrow_a))
        ck.load_sadtalker(eng.pose_net, require(arts.AUDIO2POSE), "auido2pose_00140-model.pth")
        eng.exp_net.eval().to(device)
        eng.pose_net.eval().to(device)
    if optimize:
        try:
            d = np.load(require(arts.FFHQ_PCA_NPZ))
            eng.pca_npz = {k: torch.as_tensor(d[k], dtype=torch.float32) for k in ("X_mean", "X_comp", "X_stdev")}
        except Exception:  # noqa: BLE001 - the p-norm term is optional
            eng.pca_npz = None
        try:
            from tfk_styleheat.models.checkpoint import load_state, load_torch
            from tfk_styleheat.train.losses import VGG19, PerceptualLoss

            vgg = VGG19()
            sd = load_torch(require(arts.VGG19))
            load_state(vgg, {k: v for k, v in sd.items() if k.startswith("features.")}, "vgg19")
            eng.perceptual = PerceptualLoss(vgg.to(device), style_weight=250.0)
        except Exception:  # noqa: BLE001 - without ImageNet VGG the perceptual term is left out (logged)
            import logging

            logging.getLogger("tfk.styleheat").warning(
                "optimize inversion without the VGG19 perceptual/style term (tfk weights pull styleheat/vgg19)"
            )
    return eng


def _to_tensor(img: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(img, dtype=torch.float32, device=device).permute(2, 0, 1)[None] / 127.5 - 1


def optimize_inversion(
    model: StyleHEAT, x: torch.Tensor, steps: int = 250, pca: dict | None = None, perceptual: Any = None
) -> Inversion:
    """Barbershop FS inversion: from ``encode``, Adam (lr 0.01) on W+[9:] and the layer-7 feature F.

    Loss: MSE at the generator size + VGG19 perceptual (4 scales, L1) with Gram style ×250 at 256² (when
    ``perceptual`` is given: it needs the ImageNet VGG19) + 0.1·‖F − F₀‖² + 0.001·p-norm (with ``ffhq_PCA.npz``).
    """
    g = model.generator.stylegan
    inv = model.invert(x)
    target = F.interpolate(x, size=(g.size, g.size), mode="bilinear", align_corners=False)
    f0 = inv.fx.detach()
    f = f0.clone().requires_grad_(True)
    fixed = inv.wx[:, :9].detach()
    free = inv.wx[:, 9:].detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([free, f], lr=0.01)
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.enable_grad():
        for _ in range(int(steps)):
            opt.zero_grad()
            w = torch.cat((fixed, free), 1)
            img, _, _ = g(w, f_condition=f)
            loss = F.mse_loss(img, target) + 0.1 * (f - f0).pow(2).sum()
            if perceptual is not None:
                loss = loss + perceptual(F.interpolate(img, size=(256, 256), mode="bilinear", align_corners=False), x)
            if pca is not None:
                p = (F.leaky_relu(w, 5.0) - pca["X_mean"]) @ pca["X_comp"].T / pca["X_stdev"]
                loss = loss + 0.001 * p.pow(2).mean()
            loss.backward()
            opt.step()
    w = torch.cat((fixed, free), 1).detach()
    with torch.no_grad():
        img, _, _ = g(w, f_condition=f.detach())
    ix = F.interpolate(img.clamp(-1, 1), size=(256, 256), mode="bilinear", align_corners=False)
    return Inversion(ix, w, f.detach(), None)


def _frames(fake: torch.Tensor) -> np.ndarray:
    """``[B,3,R,R]`` in [−1, 1] -> uint8 frames, truncated like the original's ``astype(np.uint8)``."""
    return ((fake.clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def render(
    eng: Engine,
    source: np.ndarray,
    semantics: np.ndarray,
    resolution: int = 1024,
    batch_size: int = 10,
    inversion: str = "encode",
    optimize_steps: int = 250,
    edit: str | None = None,
    strength: float = 1.0,
    expression_only: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Yield batches of uint8 frames ``[b,R,R,3]`` for ``semantics [N,73]`` driving the aligned ``source``."""
    model, dev = eng.model, eng.device
    x = _to_tensor(source, dev)
    if inversion == "optimize" and edit is None:
        inv = optimize_inversion(model, x, optimize_steps, eng.pca_npz, eng.perceptual)
    elif inversion in ("encode", "optimize"):
        inv = model.invert(x)
    else:
        raise UsageError(f"--inversion must be encode or optimize, not {inversion!r}")
    n = len(semantics)
    n_batches = max(1, math.ceil(n / batch_size))
    if edit is not None:
        wx, _, res = model.generator.encode(x)
        factor = model.generator.editor.RECOMMENDED[edit] * strength
    for b in range(n_batches):
        s, e = b * batch_size, min(n, (b + 1) * batch_size)
        win = windows(semantics, s, e)
        if expression_only is not None:
            win[:, 64:, :] = expression_only[64:, None]
        if edit is not None:
            ix, w2, fx, cond = model.generator.edit(wx, res, factor * (b + 1) / n_batches, edit)
            inv = Inversion(ix, w2, fx, cond)
        out = model(torch.as_tensor(win, device=dev), inv.expand(e - s), imsize=resolution, warp_image=False)
        yield _frames(out["fake_image"])


def write_stream(writer, batches: Iterator[np.ndarray], on_batch: Callable[[int], None] | None = None) -> int:
    """Encode batches on a background thread while the next batch is generated (queue of 2 batches)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def consume() -> None:
        while (item := q.get()) is not None:
            if failure:
                continue
            try:
                for f in item:
                    writer.write(f)
                if on_batch is not None:
                    on_batch(len(item))
            except BaseException as e:  # noqa: BLE001 - re-raised in the producer
                failure.append(e)

    t = threading.Thread(target=consume, name="styleheat-writer", daemon=True)
    t.start()
    n = 0
    try:
        for frames in batches:
            if failure:
                break
            q.put(frames)
            n += len(frames)
    finally:
        q.put(None)
        t.join()
    if failure:
        raise failure[0]
    return n


def _driving_audio(path: Path) -> np.ndarray | None:
    from tfk.errors import MissingStream
    from tfk.media import load_audio

    try:
        return load_audio(path, sr=16000)
    except MissingStream:
        return None


def audio_semantics(
    eng: Engine, audio: Path, source_sem: np.ndarray, seed: int, pose_style: int | None, frame_limit: int | None = None
):
    """SadTalker audio2coeff: ``[T,73]`` semantics (source crop appended) and the 16 kHz wav cut to T/25 s."""
    from tfk.audio.mel import mel_lookback_windows, melspectrogram, trim_to_whole_frames, whole_frames
    from tfk.media import load_audio
    from tfk_styleheat.models.sadtalker import NUM_CLASSES, audio_to_coeffs

    wav = load_audio(audio, sr=16000)
    if frame_limit is not None:
        wav = wav[: frame_limit * 640]
    t = whole_frames(len(wav))
    if t < 2:
        raise BadInput(f"{Path(audio).name}: audio shorter than two video frames (80 ms)")
    wav = trim_to_whole_frames(wav)
    mels = mel_lookback_windows(melspectrogram(wav), t)
    style = int(np.random.default_rng(seed).integers(0, NUM_CLASSES)) if pose_style is None else int(pose_style)
    if not 0 <= style < NUM_CLASSES:
        raise UsageError(f"--pose-style must be in 0..{NUM_CLASSES - 1}")
    c70 = audio_to_coeffs(mels, source_sem[:70], eng.exp_net, eng.pose_net, style, seed)
    sem = np.concatenate((c70, np.repeat(source_sem[None, 70:], len(c70), 0)), 1).astype(np.float32)
    return sem, wav


def default_output(mode: str, image: Path | None, video: Path | None, audio: Path | None) -> Path:
    stems = [p.stem for p in (video, image, audio) if p is not None]
    return Path.cwd() / f"{'_'.join(stems)}_styleheat_{mode}.mp4"


def infer(
    image: Path | None = None,
    video: Path | None = None,
    audio: Path | None = None,
    output: Path | None = None,
    edit: str | None = None,
    strength: float = 1.0,
    pose: str | None = None,
    pose_frames: int = 50,
    inversion: str = "encode",
    optimize_steps: int = 250,
    resolution: int = 1024,
    align: bool = True,
    batch_size: int = 10,
    frame_limit: int | None = None,
    expression_only: bool = False,
    seed: int = 0,
    pose_style: int | None = None,
    device: str = "cpu",
    require: Callable[[str], Path] | None = None,
    cache_dir: Path | None = None,
    progress=None,
    engine: Engine | None = None,
    extractor: SemanticsExtractor | None = None,
) -> Path:
    from tfk.media import VideoWriter

    mode = choose_mode(image, video, audio, edit, pose)
    if resolution not in (256, 512, 1024):
        raise UsageError("--resolution must be 512 or 1024 (256 for previews)")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if frame_limit is not None and frame_limit < 1:
        raise UsageError("--frame-limit must be at least 1")
    changes = parse_pose(pose) if pose else None
    if require is None:
        from tfk.weights import require as _require

        require = _require
    eng = engine or load_engine(require, device, edit=edit, audio=mode == "audio", optimize=inversion == "optimize")
    ex = extractor or SemanticsExtractor(require, device)
    output = Path(output) if output is not None else default_output(mode, image, video, audio)
    fps, wav = 25.0, None
    if mode in ("cross", "same", "edit"):
        drive = prepare_video(Path(video), ex, align, cache_dir, frame_limit)
        src = drive if mode == "same" else prepare_image(Path(image), ex, align, cache_dir)
        sem, fps, wav = drive.semantics, drive.fps, _driving_audio(Path(video))
    elif mode == "audio":
        src = prepare_image(Path(image), ex, align, cache_dir)
        sem, wav = audio_semantics(eng, Path(audio), src.semantics[0], seed, pose_style, frame_limit)
    else:
        src = prepare_image(Path(image), ex, align, cache_dir)
        s0 = src.semantics[0]
        target = pose_target(s0, changes)
        ramp = np.linspace(0.0, 1.0, max(2, pose_frames), dtype=np.float32)[:, None]
        sem = (s0[None] + ramp * (target - s0)[None]).astype(np.float32)
    if frame_limit is not None:
        sem = sem[:frame_limit]
    if wav is None:
        wav = np.zeros(int(len(sem) / fps * 16000) + 1, np.float32)
    source: Prepared = src
    eo = source.semantics[0] if expression_only else None
    task = progress.task(f"styleheat: {mode}", total=len(sem)) if progress is not None else None
    handle = task.__enter__() if task is not None else None
    try:
        with VideoWriter(output, fps=fps, audio=wav, audio_rate=16000) as w:
            batches = render(
                eng, source.image, sem, resolution, batch_size, inversion, optimize_steps, edit, strength, eo
            )
            write_stream(w, batches, handle.advance if handle is not None else None)
    finally:
        if task is not None:
            task.__exit__(None, None, None)
    return output


def cache_root(home: Path) -> Path:
    return Path(os.environ.get("TFK_STYLEHEAT_CACHE", home / "cache" / "styleheat"))
