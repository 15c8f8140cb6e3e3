"""Drive a trained subject with any audio.

audio -> features (the front-end recorded at training, run through :mod:`tfk.nerfprep.features`: its weights
come from the store or ``--audio-model``, never downloaded here) -> one frame per feature row, rendered along the
training poses in ping-pong order (with their blink values and torso images) -> optionally pasted back
into the original full-resolution frames (Avatar merge modes ``bbox``, ``face``, ``face-neck``) -> H.264 +
AAC through :class:`tfk.media.VideoWriter`, streamed frame by frame. ``--background R,G,B`` replaces the
background plate (and, outside the head box, the matted background); ``--alpha`` also writes the matte
as ``<output>.alpha.mp4``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfk.errors import BadInput, InputNotFound, UsageError
from tfk_ernerf.data import Subject, audio_window, find_subject_dir
from tfk_ernerf.models.checkpoint import checkpoint_frontend, frontend_by_width, load_model
from tfk_ernerf.models.network import ERNeRF
from tfk_ernerf.render.renderer import render_frame, test_conditioning

log = logging.getLogger("tfk.ernerf.infer")
MERGE_MODES = ("bbox", "face", "face-neck", "none")
#: BiSeNet labels replaced in the ``face`` / ``face-neck`` merges (skin, brows, eyes, glasses, nose, mouth, lips)
FACE_LABELS = (1, 2, 3, 4, 5, 6, 10, 11, 12, 13)
NECK_LABELS = (14, 15)


def mirror_index(i: int, n: int) -> int:
    """Ping-pong: 0, 1, ..., n-1, n-1, ..., 0, 0, 1, ..."""
    turn, res = divmod(i, n)
    return res if turn % 2 == 0 else n - 1 - res


def train_root(ws_root: Path) -> Path:
    return Path(ws_root) / "train"


def find_model(ws_root: Path, uid: str, use_torso: bool = True) -> Path:
    """The subject's torso ``ngp.pth`` when trained (and wanted), else the head's; a clear error if neither."""
    root = train_root(ws_root)
    cands = ([root / "torso" / "checkpoints" / "ngp.pth"] if use_torso else []) + [
        root / "head" / "checkpoints" / "ngp.pth"
    ]
    for c in cands:
        if c.is_file():
            return c
    raise InputNotFound(
        f"no trained ER-NeRF model for --uid {uid}",
        hint=f"tfk train ernerf --uid {uid} (after tfk preprocess ernerf VIDEO --uid {uid})",
    )


def n_frames(n_samples: int, sr: int = 16000) -> int:
    """Output frames for an audio length: ``round(25 * seconds)``."""
    return max(1, round(25 * n_samples / sr))


def fit_length(features: np.ndarray, n: int) -> np.ndarray:
    """Trim, or extend by repeating the last row, to ``n`` rows (ER-NeRF's HuBERT layout gives ``T/2`` rows,
    one short of ``25 x seconds`` for some lengths; DeepSpeech gives ``ceil((round(50 s) - 1) / 2)``)."""
    if features.shape[0] >= n:
        return features[:n]
    if features.shape[0] == 0:
        raise BadInput("the audio is too short for any feature window")
    pad = np.repeat(features[-1:], n - features.shape[0], axis=0)
    return np.concatenate([features, pad], axis=0)


def check_features(features: np.ndarray, frontend: str, width: int) -> None:
    """``[N, W, C]`` features with the model's ``C``; a clear error naming the front-ends otherwise."""
    shape = tuple(features.shape)
    if len(shape) == 3 and shape[2] == width:
        return
    other = frontend_by_width(shape[2]) if len(shape) == 3 else None
    got = f"{other} features" if other and other != frontend else "features"
    raise BadInput(
        f"the model was trained on {frontend} features ({width} channels), got {got} of shape {shape}",
        hint=f"drive it with {frontend} features (tfk infer ernerf extracts them from the audio)",
    )


def parse_rgb(text: str | None) -> tuple[int, int, int] | None:
    if text is None or text == "":
        return None
    parts = text.replace("(", "").replace(")", "").replace(" ", "").split(",")
    try:
        vals = tuple(int(p) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != 3 or not all(0 <= v <= 255 for v in vals):
        raise UsageError(f"--background must be R,G,B with values 0-255, got {text!r}")
    return vals  # type: ignore[return-value]


class _FullFrames:
    """Original full-resolution frames by index: decoded once, streaming, into a JPEG cache (bounded memory)."""

    def __init__(self, video: Path, cache: Path):
        self.video, self.cache = video, cache

    def _ensure(self) -> None:
        done = self.cache / ".complete"
        if done.is_file():
            return
        import cv2

        from tfk.media import iter_frames

        self.cache.mkdir(parents=True, exist_ok=True)
        for i, fr in enumerate(iter_frames(self.video)):
            tmp = self.cache / f".{i}.tmp.jpg"
            cv2.imwrite(str(tmp), cv2.cvtColor(fr, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            tmp.replace(self.cache / f"{i}.jpg")
        done.write_text("ok")

    def get(self, i: int) -> np.ndarray:
        import cv2

        self._ensure()
        img = cv2.imread(str(self.cache / f"{i}.jpg"))
        if img is None:
            raise BadInput(f"frame {i} of {self.video} is missing (the video is shorter than the subject)")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass
class Paste:
    """Where renders go in the full frame: ``bbox`` (x1, y1, x2, y2) of the original video."""

    bbox: tuple[int, int, int, int]
    frames: _FullFrames
    alpha: _FullFrames | None


def _cache_dir(cache: Path, video: Path) -> Path:
    """A cache folder keyed by the video's path, size and mtime (a re-preprocessed subject gets a new one)."""
    import hashlib

    st = video.stat()
    key = hashlib.sha1(f"{video.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache / f"{video.stem}-{key}"


def _paste_setup(subject: Subject, cache: Path) -> Paste | None:
    md = subject.model_data
    region = md.get("head_region") or md.get("head_bbox")
    video = md.get("video_file")
    if not region or not video:
        return None
    vp = Path(video) if Path(video).is_absolute() else subject.data_dir / video
    if not vp.is_file():
        raise InputNotFound(f"the subject's full-resolution video {vp} is missing", hint="re-run tfk preprocess ernerf")
    alpha = None
    af = md.get("alpha_file")
    if af:
        ap = Path(af) if Path(af).is_absolute() else subject.data_dir / af
        if ap.is_file():
            alpha = _FullFrames(ap, _cache_dir(cache, ap))
    x1, y1, x2, y2 = (int(v) for v in region)
    return Paste((x1, y1, x2, y2), _FullFrames(vp, _cache_dir(cache, vp)), alpha)


def _merge_mask(subject: Subject, img_id: int, mode: str, size: tuple[int, int]) -> np.ndarray | None:
    """bool ``[h, w]`` of the pixels a ``face``/``face-neck`` merge replaces (parsing labels, nearest-resized)."""
    import cv2

    if mode == "bbox":
        return None
    labels = NECK_LABELS + FACE_LABELS if mode == "face-neck" else FACE_LABELS
    lab_path = subject.data_dir / "parsing_label" / f"{img_id}.png"
    if lab_path.is_file():
        lab = cv2.imread(str(lab_path), cv2.IMREAD_GRAYSCALE)
        mask = np.isin(lab, labels)
    else:  # colour parsing (BGR codes): head (255,0,0) [+ neck (0,255,0)] -- hair and ears included
        par = cv2.imread(str(subject.data_dir / "parsing" / f"{img_id}.png"))
        if par is None:
            raise InputNotFound(f"no parsing for frame {img_id}: the {mode} merge needs it (use --merge bbox)")
        mask = (par[..., 0] == 255) & (par[..., 1] == 0) & (par[..., 2] == 0)
        if mode == "face-neck":
            mask |= (par[..., 0] == 0) & (par[..., 1] == 255) & (par[..., 2] == 0)
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def render_stream(
    model: ERNeRF,
    subject: Subject,
    feats: torch.Tensor,
    background: tuple[int, int, int] | None = None,
    marcher: str = "occupancy",
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(training frame index, RGB float [H,W,3], alpha [H,W])`` per feature row, ping-pong poses."""
    dev = model.aabb_infer.device
    n = len(subject)
    plate = subject.bc
    if background is not None:
        plate = torch.tensor(background, dtype=torch.float32).div(255).expand(subject.h * subject.w, 3)
    for i in range(feats.shape[0]):
        fi = mirror_index(i, n)
        fr = subject.frames[fi]
        with torch.no_grad():
            cond = test_conditioning(model, audio_window(feats, i, model.cfg.att), subject.eye_of(fr))
            torso_alpha = torch.zeros(subject.h * subject.w, 1)
            if model.cfg.torso:
                bg = plate
            else:
                t = subject.torso(fr)
                torso_alpha = t[:, 3:]
                bg = t[:, :3] * torso_alpha + plate * (1 - torso_alpha)
            r = render_frame(
                model, fr.pose.to(dev), subject.intrinsics, subject.h, subject.w, cond, bg.to(dev), marcher
            )
        ws = r["weights_sum"].cpu().reshape(-1, 1)
        if model.cfg.torso:
            torso_alpha = r["torso_alpha"].cpu().reshape(-1, 1)
        alpha = ws + (1 - ws) * torso_alpha
        yield fi, r["image"].cpu().numpy(), alpha.reshape(subject.h, subject.w).numpy()


def _to_u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def infer(
    ws_root: str | os.PathLike[str],
    uid: str,
    audio: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    merge: str = "bbox",
    background: str | None = None,
    alpha: bool = False,
    torso: bool = True,
    device: str = "cpu",
    find: Callable[[str], Path | None] | None = None,
    progress: Any = None,
    features: np.ndarray | None = None,
    audio_model: str | os.PathLike[str] | None = None,
) -> Path:
    """Render ``audio`` with the subject ``uid`` to ``output`` (default ``./<uid>_<audio stem>_ernerf.mp4``).

    The audio front-end is the one the model was trained with; its weights are ``audio_model`` (a DeepSpeech
    graph or Hugging Face model folder) or the store's (``find`` replaces the store lookup). ``features``
    (``[N, W, C]``, that front-end's layout) skips the extraction.
    """
    from tfk.media import VideoWriter

    if merge not in MERGE_MODES:
        raise UsageError(f"--merge must be one of {', '.join(MERGE_MODES)}, got {merge!r}")
    colour = parse_rgb(background)
    ws_root = Path(ws_root)
    ckpt = find_model(ws_root, uid, torso)
    data_dir = find_subject_dir(ws_root)
    if data_dir is None:
        raise InputNotFound(
            f"the preprocessed data of --uid {uid} is missing", hint="tfk preprocess ernerf VIDEO --uid UID"
        )
    model, ck = load_model(ckpt, device)
    model.eval()
    model.testing = True
    frontend = checkpoint_frontend(ck)
    if frontend is None:
        raise BadInput(f"{ckpt}: cannot tell the audio front-end of a {model.cfg.audio_in_dim}-channel model")
    state = None
    if features is None:  # fail fast when the front-end cannot run here
        from tfk.nerfprep.features import resolve

        state = resolve(frontend, Path(audio_model) if audio_model else None, find)
    subject = Subject.load(data_dir, "train", frontend)
    audio = Path(audio)
    if not audio.is_file():
        raise InputNotFound(f"audio not found: {audio}")
    from tfk import audio as taudio

    wav = taudio.load(audio)
    if state is not None:
        from tfk.nerfprep.features import extract

        features = extract(frontend, wav, state, device)
    assert features is not None
    check_features(features, frontend, model.cfg.audio_in_dim)
    features = fit_length(features, n_frames(len(wav)))
    feats = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).permute(0, 2, 1).contiguous()
    out = Path(output) if output else Path.cwd() / f"{uid}_{audio.stem}_ernerf.mp4"
    paste = None if merge == "none" else _paste_setup(subject, ws_root / "cache")
    if colour is not None and paste is not None and paste.alpha is None:
        raise UsageError(
            "--background outside the head box needs the matte (alpha video) from preprocessing",
            hint="tfk preprocess ernerf VIDEO --uid UID --matting rvm, or use --merge none",
        )
    if alpha and paste is not None and paste.alpha is None:
        raise UsageError("--alpha needs the matte (alpha video) from preprocessing", hint="use --merge none")
    alpha_out = out.with_name(out.stem + ".alpha.mp4") if alpha else None
    n = feats.shape[0]
    task = progress.task("rendering", total=n) if progress is not None else None
    handle = task.__enter__() if task is not None else None
    try:
        with VideoWriter(out, fps=25, audio=wav, audio_rate=16000) as vw:
            aw = VideoWriter(alpha_out, fps=25) if alpha_out else None
            try:
                for fi, img, a in render_stream(model, subject, feats, colour):
                    frame, matte = _compose(subject, paste, merge, fi, img, a, colour)
                    vw.write(frame)
                    if aw is not None:
                        aw.write(np.repeat(_to_u8(matte)[..., None], 3, axis=2))
                    if handle is not None:
                        handle.advance(1)
            except BaseException:
                if aw is not None:
                    aw.abort()
                raise
            if aw is not None:
                aw.close()
    finally:
        if task is not None:
            task.__exit__(None, None, None)
    return out


def _compose(
    subject: Subject,
    paste: Paste | None,
    merge: str,
    fi: int,
    img: np.ndarray,
    a: np.ndarray,
    colour: tuple[int, int, int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The output frame (uint8) and its matte (float) for training frame ``fi``."""
    import cv2

    if paste is None:
        return _to_u8(img), a
    img_id = subject.frames[fi].img_id
    full = paste.frames.get(img_id).astype(np.float32) / 255
    x1, y1, x2, y2 = paste.bbox
    x1c, y1c = max(x1, 0), max(y1, 0)
    x2c, y2c = min(x2, full.shape[1]), min(y2, full.shape[0])
    if x2c <= x1c or y2c <= y1c:
        raise BadInput(f"head box {paste.bbox} lies outside the {full.shape[1]}x{full.shape[0]} video")
    size = (x2 - x1, y2 - y1)
    crop = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    crop_a = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
    matte = np.ones(full.shape[:2], np.float32)
    if paste.alpha is not None:
        matte = paste.alpha.get(img_id)[..., 0].astype(np.float32) / 255
    if colour is not None:
        c = np.array(colour, np.float32) / 255
        full = full * matte[..., None] + c * (1 - matte[..., None])
    sy, sx = slice(y1c - y1, y2c - y1), slice(x1c - x1, x2c - x1)
    mask = _merge_mask(subject, img_id, merge, size)
    region = full[y1c:y2c, x1c:x2c]
    if mask is None:
        region[:] = crop[sy, sx]
        matte[y1c:y2c, x1c:x2c] = crop_a[sy, sx]
    else:
        m = mask[sy, sx]
        region[m] = crop[sy, sx][m]
        mr = matte[y1c:y2c, x1c:x2c]
        mr[m] = crop_a[sy, sx][m]
    return _to_u8(full), matte
