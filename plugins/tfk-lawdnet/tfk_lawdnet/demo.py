"""``tfk demo [lawdnet]``: the whole LawDNet pipeline on built-in media, offline, on CPU, in a few minutes.

It makes a talking-face template from the real portrait that ships with scikit-image (its mouth moves
with a synthetic voice), a second synthetic voice to dub it with, preprocesses the template, trains
LawDNet's ``tiny`` preset on it (its first stage, ``train_steps`` steps per epoch, pixel loss only at a
higher learning rate: fitting one subject quickly) and dubs it, each stage
through :func:`tfk.runner.run_stage`. Published weights cannot be bundled, so the audio front-end is an
*untrained* deepspeech.pytorch network (seeded, deterministic): the mouth is reconstructed from the
template's own reference frames, it does not follow the new voice. The demo writes a side-by-side
preview (template | result, ``preview.png`` and ``preview.mp4``) and reports the mouth-region PSNR of
the result against the template. Everything lives under ``--out`` (the weights store is not touched).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from tfk.progress import Progress

#: learning rate of the demo's short pixel-loss run (the preset's 1e-4 needs far more steps; 1e-3 with the
#: adversarial loss saturates the output within a few steps). Mouth-region PSNR of the built-in demo, measured:
#: 300 steps at 3e-4 26.5 dB, 300 at 5e-4 24.2 dB, 200 at 5e-4 25.3 dB, 200 at 1e-3 22.2 dB, 60 at 5e-4 18.9 dB
DEMO_LR = 3e-4
#: the mouth box around landmarks 48-67, widened by this fraction of its size on every side
MOUTH_MARGIN = 0.25


def _untrained_dp2(path: Path) -> Path:
    """A seeded, untrained deepspeech.pytorch network in the published key layout (small hidden size)."""
    import torch

    from tfk.audio.deepspeech_pt import DeepSpeech2

    if not path.exists():
        torch.manual_seed(0)
        from tfk.fsutil import atomic_path

        with atomic_path(path) as tmp:
            torch.save(DeepSpeech2(hidden_size=64, hidden_layers=2).state_dict(), tmp)
    return path


def run_demo(
    out: Path,
    seconds: float = 4.0,
    device: str = "cpu",
    video: Path | None = None,
    audio: Path | None = None,
    progress: Progress | None = None,
    train_steps: int = 150,
) -> Path:
    """Preprocess, train (tiny, ``train_steps`` steps per epoch) and dub under ``out``; return the dubbed video.

    Also writes ``preview.png`` / ``preview.mp4`` (template | result) next to it and ends with the
    mouth-region PSNR against the template.
    """
    from tfk.console import info
    from tfk.media import write_wav
    from tfk.runner import run_stage
    from tfk.testing.synth import make_talking_clip, synthetic_speech
    from tfk_lawdnet.artifacts import DP2_CHECKPOINT

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    template = Path(video) if video is not None else out / "template.mp4"
    if video is None and not template.exists():
        make_talking_clip(template, seconds=seconds, size=256, seed=0)
    speech = Path(audio) if audio is not None else out / "speech.wav"
    if audio is None and not speech.exists():
        write_wav(speech, synthetic_speech(seconds * 0.75, 16000, seed=7), 16000)
    weights = {DP2_CHECKPOINT: _untrained_dp2(out / "weights" / "dp2_untrained.pt")}

    def stage(verb: str, options: dict[str, Any]) -> Any:
        t0 = time.monotonic()
        result = run_stage(
            "lawdnet",
            verb,
            options,
            uid="demo",
            workspace=out / "workspace",
            device=device,
            progress=progress,
            home=out,
            runs_root=out / "runs" / verb,
            weights=weights,
        )
        info(f"demo: {verb} done in {time.monotonic() - t0:.1f}s")
        return result

    stage("preprocess", {"input": template, "features": "dp2", "resolution": 180})
    generator = stage(
        "train",
        {
            "preset": "tiny",
            "stage": ["frame64"],
            "steps": train_steps,
            "lr": DEMO_LR,
            "losses": "pixel",
            "out": out / "train" / f"tiny-pixel-s{train_steps}",
        },
    )
    result = stage(
        "infer",
        {
            "video": template,
            "audio": speech,
            "output": out / "dubbed.mp4",
            "checkpoint": str(generator),
            "batch_size": 8,
        },
    )
    landmarks = out / "workspace" / "steps" / "landmarks" / "landmarks" / f"{template.stem}.npy"
    psnr = write_preview(template, Path(result), landmarks, out / "preview.png", out / "preview.mp4", speech)
    info(
        f"demo: dubbed video {result}; preview (template | result) {out / 'preview.png'} and "
        f"{out / 'preview.mp4'}; tiny model trained {2 * train_steps} steps on the spot, untrained audio "
        f"front-end; mouth-region PSNR vs the template: {psnr:.1f} dB"
    )
    return Path(result)


def mouth_box(points: np.ndarray, width: int, height: int, margin: float = MOUTH_MARGIN) -> tuple[int, ...]:
    """(y0, y1, x0, x1) around the mouth landmarks 48-67 of one frame, widened by ``margin``, inside the frame."""
    import numpy as np

    mouth = np.asarray(points, np.float64)[48:68]
    (x0, y0), (x1, y1) = mouth.min(0), mouth.max(0)
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    xa, xb = int(max(0, np.floor(x0 - dx))), int(min(width, np.ceil(x1 + dx) + 1))
    ya, yb = int(max(0, np.floor(y0 - dy))), int(min(height, np.ceil(y1 + dy) + 1))
    return ya, yb, xa, xb


def write_preview(
    template: Path, result: Path, landmarks: Path, png: Path, mp4: Path, audio: Path | None = None
) -> float:
    """Write template | result side by side (PNG of the middle frame, MP4 of every frame); return the mouth PSNR.

    Output frame ``i`` is compared with the template frame the dubbing used for it (ping-pong order), over
    the mouth box of that frame's landmarks. Frames are streamed; only a template shorter than the result
    (ping-pong loops) is held in memory.
    """
    import cv2
    import numpy as np

    from tfk.fsutil import atomic_path
    from tfk.media import VideoWriter, iter_frames, probe
    from tfk_lawdnet.template import pingpong_indices

    track = np.load(landmarks)  # the preprocess track: a record per frame (points, box, detected, size)
    points = np.asarray(track["points"] if track.dtype.names else track, np.float64)
    if track.dtype.names and "size" in track.dtype.names:
        tw, th = (probe(template).width or 0), (probe(template).height or 0)
        sw, sh = (float(v) for v in track["size"][0])
        if tw and th and sw and sh and (tw, th) != (sw, sh):
            points = points * np.array([tw / sw, th / sh])
    n_template, n_out = len(points), probe(result).n_frames or 0
    order = pingpong_indices(n_out, n_template)
    middle = n_out // 2
    forward = bool(np.all(order == np.arange(n_out)))
    template_frames = iter_frames(template)
    kept: list[np.ndarray] = []
    se, count = 0.0, 0
    with VideoWriter(mp4, fps=25, audio=audio) as writer:
        for i, res in enumerate(iter_frames(result)):
            if forward:
                tpl = next(template_frames)
            else:
                while len(kept) <= order[i]:
                    kept.append(next(template_frames))
                tpl = kept[order[i]]
            h, w = tpl.shape[:2]
            if res.shape[:2] != (h, w):
                res = cv2.resize(res, (w, h), interpolation=cv2.INTER_AREA)
            ya, yb, xa, xb = mouth_box(points[order[i]], w, h)
            diff = res[ya:yb, xa:xb].astype(np.float64) - tpl[ya:yb, xa:xb].astype(np.float64)
            se += float(np.sum(diff * diff))
            count += diff.size
            pair = np.concatenate([tpl, res], axis=1)
            writer.write(pair)
            if i == middle:
                _ok, buf = cv2.imencode(".png", cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
                with atomic_path(png) as tmp:
                    Path(tmp).write_bytes(buf.tobytes())
    mse = se / max(count, 1)
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))
