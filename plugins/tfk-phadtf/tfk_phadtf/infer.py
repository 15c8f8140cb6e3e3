"""``tfk infer phadtf --uid NAME --audio speech.wav -o out.mp4``: the test-time chain of the original, streamed.

audio -> MFCC windows -> ATC_net (64 exp + 6 pose) -> real frame per output frame (``--pose generated``: keyframe
matching of the predicted pose, ``video``: the clip's own poses, ping-pong) -> render with frame 0's identity,
texture and light, the predicted expression and the matched frame's pose, shifted into the fixed crop -> MATLAB
blend over the matched frame's fixed crop -> memory GAN on 3 consecutive blends -> (``--full-frame``) pasted back
into the matched original frame -> H.264 + AAC. Output frames = round(25 x audio seconds).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tfk.errors import BadInput, UsageError

log = logging.getLogger("tfk.phadtf")
FPS = 25
GAN_SIZE = 256
CHUNK = 8  # frames per GAN batch
ID_EVERY = 25  # control=1: memory look-up every 25th frame (and the last), interpolated between


@dataclass
class Nets:
    atcnet: torch.nn.Module
    generator: torch.nn.Module
    memory: torch.nn.Module


def load_nets(atcnet: Path, net_g: Path, net_mem: Path, device: str = "cpu", dropout: bool = False) -> Nets:
    from tfk_phadtf.models import checkpoint as ck

    g = ck.load_generator(net_g).to(device).eval()
    if dropout:  # the original never calls eval(): dropout 0.5 stays active in d1-d3 at test time
        for m in g.modules():
            if isinstance(m, torch.nn.Dropout):
                m.train()
    return Nets(ck.load_atcnet(atcnet).to(device).eval(), g, ck.load_memory(net_mem).to(device).eval())


@torch.no_grad()
def predict_coeffs(
    net: torch.nn.Module, wav: np.ndarray, device: str = "cpu", timing: dict | None = None
) -> np.ndarray:
    """(T, 70) for the utterance (one LSTM pass over all windows, batch 1); T padded to round(25 x seconds)."""
    from tfk.audio.mfcc import mfcc_context_windows

    n_out = int(np.floor(len(wav) / 16000 * FPS + 0.5))  # round half up
    if n_out < 1:
        raise BadInput("the driving audio is shorter than one video frame")
    win = torch.as_tensor(mfcc_context_windows(wav), dtype=torch.float32, device=device)[None]
    t0 = time.perf_counter()
    out = net(win)[0].cpu().numpy()
    if timing is not None:
        timing["atcnet"] = time.perf_counter() - t0
    if len(out) < n_out:  # the window count is floor(M/4) - 6, about one short of 25 x seconds
        out = np.concatenate([out, np.repeat(out[-1:], n_out - len(out), 0)])
    return out[:n_out]


def assign_frames(pred: np.ndarray, real_angles: np.ndarray, pose: str) -> np.ndarray:
    from tfk_phadtf.posematch import match_frames, ping_pong

    if pose == "generated":
        return match_frames(pred[:, 64:67], real_angles)
    if pose == "video":
        return ping_pong(len(pred), len(real_angles))
    raise UsageError(f"--pose must be generated or video, not {pose!r}")


class Composer:
    """Render + shift + blend of one output frame (the inputs A_t of the GAN)."""

    def __init__(self, sub, renderer):
        self.sub, self.r = sub, renderer
        renderer.fix_identity(sub.coeffs[0])
        self.base = sub.coeffs[0].copy()
        self.shift = sub.lm_5p.mean(1)  # (N, 2): mean over the 5 points

    def coeffs(self, exp: np.ndarray, idx: np.ndarray) -> np.ndarray:
        c = np.repeat(self.base[None], len(idx), 0)
        c[:, 80:144] = exp
        c[:, 224:227] = self.sub.coeffs[idx, 224:227]
        c[:, 254:257] = self.sub.coeffs[idx, 254:257]  # relativeframe=2: the real trans, no +0.5
        return c

    def blends(self, exp: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        from tfk_phadtf.blend import alpha_blend
        from tfk_phadtf.facerender import shift

        c = self.coeffs(exp, idx)
        rgba = self.r.render_exp_pose(c[:, 80:144], c[:, 224:227], c[:, 254:257])
        out = []
        for j, k in enumerate(idx):
            moved = shift(rgba[j], *self.shift[k])
            out.append(alpha_blend(self.sub.image("renders", f"frame{k}_input2.png"), moved))
        return out


def to_gan(rgb: np.ndarray) -> torch.Tensor:
    """224 uint8 -> (3, 256, 256) in [-1, 1] (LANCZOS resize, as the original's loader)."""
    import cv2

    x = cv2.resize(rgb, (GAN_SIZE, GAN_SIZE), interpolation=cv2.INTER_LANCZOS4)
    return torch.from_numpy(x).permute(2, 0, 1).float() / 127.5 - 1.0


def query_input(rgb: np.ndarray) -> torch.Tensor:
    import cv2

    from tfk_phadtf.models.memory import imagenet_normalise

    x = cv2.resize(rgb, (GAN_SIZE, GAN_SIZE), interpolation=cv2.INTER_LANCZOS4)
    return imagenet_normalise(torch.from_numpy(x).permute(2, 0, 1).float()[None] / 255.0)[0]


@torch.no_grad()
def identity_track(
    nets: Nets, comp: Composer, exp: np.ndarray, idx: np.ndarray, device: str, timing: dict | None = None
) -> np.ndarray:
    """Top-1 memory value on frames 0, 25, 50, … and the last; linear interpolation in between."""
    n = len(idx)
    keys = sorted({*range(0, n, ID_EVERY), n - 1})
    blends = comp.blends(exp[keys], idx[keys])
    x = torch.stack([query_input(b) for b in blends]).to(device)
    t0 = time.perf_counter()
    vals = nets.memory.top1_value(nets.memory(x)).cpu().numpy()
    if timing is not None:
        timing["memory"] = time.perf_counter() - t0
    out = np.empty((n, vals.shape[1]), np.float32)
    for d in range(vals.shape[1]):
        out[:, d] = np.interp(np.arange(n), keys, vals[:, d])
    return out


def paste_full(frame: np.ndarray, face: np.ndarray, m: np.ndarray, seamless: bool = True) -> np.ndarray:
    """Place the 224-crop face (resized from the GAN's 256) back into the original frame."""
    import cv2

    h, w = frame.shape[:2]
    face224 = cv2.resize(face, (224, 224), interpolation=cv2.INTER_LANCZOS4)
    sx = m[0, 0]
    size = max(1, round(224 * sx))
    big = cv2.resize(face224, (size, size), interpolation=cv2.INTER_LANCZOS4)
    x0, y0 = round(m[0, 2]), round(m[1, 2])
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + size, w), min(y0 + size, h)
    if xb - xa < 3 or yb - ya < 3:
        return frame
    patch = big[ya - y0 : yb - y0, xa - x0 : xb - x0]
    if seamless and xa > 0 and ya > 0 and xb < w and yb < h:
        mask = np.full(patch.shape[:2], 255, np.uint8)
        centre = ((xa + xb) // 2, (ya + yb) // 2)
        return cv2.seamlessClone(patch, frame, mask, centre, cv2.NORMAL_CLONE)
    out = frame.copy()
    out[ya:yb, xa:xb] = patch
    return out


def generate(
    sub,
    nets: Nets,
    face_model,
    wav: np.ndarray,
    output: Path,
    audio_path: Path | None = None,
    pose: str = "generated",
    full_frame: bool = True,
    device: str = "cpu",
    progress=None,
    timings: dict | None = None,
) -> dict:
    """Write the talking-face video; returns a summary (frames, matched indices, durations)."""
    from tfk.media import VideoWriter
    from tfk_phadtf.crops import crop_to_image
    from tfk_phadtf.facerender import FaceRenderer

    t_start = time.perf_counter()
    a_timing: dict = {}
    pred = predict_coeffs(nets.atcnet, wav, device, a_timing)
    t_net = a_timing["atcnet"]
    real = sub.coeffs[: sub.n_train, 224:227]
    idx = assign_frames(pred, real, pose)
    comp = Composer(sub, FaceRenderer(face_model, device))
    id_timing: dict = {}
    ident = identity_track(nets, comp, pred[:, :64], idx, device, id_timing)
    m = crop_to_image(sub.trans_params[0])
    n = len(pred)
    window: deque[torch.Tensor] = deque(maxlen=3)
    task = progress.task("PHADTF frames", total=n) if progress is not None else None
    ctx = task if task is not None else None
    bar = ctx.__enter__() if ctx is not None else None
    pool = None
    try:
        with VideoWriter(output, fps=FPS, audio=audio_path if audio_path is not None else wav) as vw:
            chunks = [list(range(s0, min(n, s0 + CHUNK))) for s0 in range(0, n, CHUNK)]

            def compose(ks: list[int]) -> list[torch.Tensor]:
                return [to_gan(b) for b in comp.blends(pred[ks, :64], idx[ks])]

            # Render + blend the next chunk in a worker thread while the GAN runs on this one (torch, numpy and
            # OpenCV release the GIL), so the work outside the networks overlaps with them.
            pool = ThreadPoolExecutor(max_workers=1)
            pending = pool.submit(compose, chunks[0])
            for c_i, ks in enumerate(chunks):
                s0 = ks[0]
                a_ts = pending.result()
                if c_i + 1 < len(chunks):
                    pending = pool.submit(compose, chunks[c_i + 1])
                xs = []
                for a_t in a_ts:
                    window.append(a_t)
                    while len(window) < 3:  # only reached for clips under 3 frames (see below)
                        window.appendleft(a_t)
                    xs.append(torch.cat(list(window), 0))
                x = torch.stack(xs).to(device)
                t0 = time.perf_counter()
                color, att = nets.generator(x, torch.from_numpy(ident[ks]).to(device))
                fake = att * x[:, -3:] + (1 - att) * color
                t_net += time.perf_counter() - t0
                faces = ((fake.clamp(-1, 1) + 1) * 127.5 + 0.5).floor().byte().permute(0, 2, 3, 1).cpu().numpy()
                if s0 == 0 and len(ks) >= 3:  # the original has no window for frames 0, 1: they copy frame 2
                    faces[0] = faces[1] = faces[2]
                for j, k in enumerate(ks):
                    face = faces[j]
                    if full_frame:
                        face = paste_full(sub.image("frames", f"frames/{idx[k]}.png"), face, m)
                    vw.write(face)
                    if bar is not None:
                        bar.advance(1)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if ctx is not None:
            ctx.__exit__(None, None, None)
    total = time.perf_counter() - t_start
    if timings is not None:
        timings.update(total=total, networks=t_net + id_timing["memory"], frames=n)
    return {"output": str(output), "frames": n, "seconds": n / FPS, "matched_frames": idx.tolist(), "pose": pose}


def infer(ctx, options: dict) -> Path:
    """The ``tfk_infer`` hook body."""
    from tfk.media import load_audio, preflight
    from tfk_phadtf import artifacts as arts
    from tfk_phadtf import resources
    from tfk_phadtf.subject import Subject

    if ctx.workspace is None:
        raise UsageError("infer phadtf needs --uid (the preprocessed and trained target)")
    sub = Subject.from_workspace(ctx.workspace)
    audio = Path(options["audio"])
    preflight(audio, video=False, audio=True)
    trained = ctx.workspace.path("train")
    atc = options.get("atcnet") or _latest(trained / "audio", "atcnet_lstm_*.pth")
    g = options.get("net_g") or _latest(trained / "gan", "*_net_G.pth")
    mem = options.get("net_mem") or _latest(trained / "gan", "*_net_mem.pth")
    nets = load_nets(
        resources.resolve(atc, arts.ATCNET, ctx.require),
        resources.resolve(g, arts.NET_G, ctx.require),
        resources.resolve(mem, arts.NET_MEM, ctx.require),
        ctx.device,
        dropout=bool(options["test_dropout"]),
    )
    out = Path(options.get("output") or f"{sub.uid}_{audio.stem}_phadtf.mp4")
    wav = load_audio(audio, sr=16000)
    fm = resources.face_model(options.get("face_model"), ctx.device)
    res = generate(sub, nets, fm, wav, out, audio, str(options["pose"]), full_frame(options), ctx.device, ctx.progress)
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    log.info("wrote %s (%d frames, %.2f s)", out, res["frames"], res["seconds"])
    return out


def full_frame(options: dict) -> bool:
    """``--face-only`` wins over the default ``--full-frame``."""
    return bool(options.get("full_frame", True)) and not bool(options.get("face_only", False))


def _latest(d: Path, pattern: str) -> str | None:
    import re

    files = list(d.glob(pattern)) if d.is_dir() else []
    if not files:
        return None

    def num(p: Path) -> int:
        m = re.search(r"(\d+)", p.stem)
        return int(m.group(1)) if m else -1

    return str(max(files, key=num))
