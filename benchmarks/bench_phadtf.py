"""PHADTF inference throughput: frames/s of the whole chain and the share of time spent outside the networks.

Run: ``python benchmarks/bench_phadtf.py [--width 1] [--seconds 4] [--bfm-grid 190] [--device cpu]``.

It prepares a target once (a built-in talking clip, the fitting substitute for coefficients, a synthetic
BFM-structured stand-in whose grid of 190x190 gives about as many vertices as the real BFM front model, so the
renderer's cost is representative), writes random networks at ``1/width`` of the published widths (1 = the
published sizes: G 259 M parameters) and times :func:`tfk_phadtf.infer.generate` on ``--seconds`` of speech.
"Networks" = ATC_net + memory look-ups + generator; everything else (render, blend, resizes, paste-back,
encoding) is "outside". Target: outside <= 20 %. Numbers depend on the machine load; run it on an idle box.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "tfk-phadtf"))


def prepare(work: Path, grid: int, device: str, width: int) -> tuple:
    from tfk_phadtf.preprocess import preprocess
    from tfk_phadtf.train.init import write_tiny_weights

    from tfk.plugin import StageContext
    from tfk.tdmm.bfm import derive_bfm
    from tfk.tdmm.synthetic import make_synthetic_bfm
    from tfk.testing.synth import make_talking_clip
    from tfk.workspace import Workspace

    files = make_synthetic_bfm(work / "bfm", seed=0, grid=grid)
    front = work / "derived" / "BFM_model_front.mat"
    if not front.exists():  # a --work directory is reused (preprocess steps are cached too)
        derive_bfm(files["01_MorphableModel.mat"], work / "derived", helpers=files)
    files["BFM_model_front.mat"] = front
    weights = write_tiny_weights(work / f"w{width}", width=width, seed=0, mem_size=30000 if width == 1 else 256)
    clip = work / "clip.mp4"
    if not clip.exists():
        make_talking_clip(clip, seconds=2.0, size=256, seed=0)
    ws = Workspace.for_subject("phadtf", "bench", work / "ws")
    ctx = StageContext(model="phadtf", stage="preprocess", home=work, device=device, workspace=ws)
    opts = {
        "input": clip,
        "max_frames": 400,
        "min_seconds": 0.0,
        "landmarks": "dlib",
        "max_missing": 0.1,
        "coeffs": "fit",
        "fit_iters": 30,
        "photo_iters": 0,
        "arcface": str(weights["arcface"]),
        "face_model": files["BFM_model_front.mat"],
        "lm3d": files["similarity_Lm3D_all.mat"],
    }
    preprocess(ctx, opts)
    return ws, weights, files["BFM_model_front.mat"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1, help="network width divisor (1 = published sizes)")
    ap.add_argument("--seconds", type=float, default=4.0, help="speech length")
    ap.add_argument("--bfm-grid", type=int, default=190, help="stand-in BFM grid (190 ~ the real vertex count)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--face-only", action="store_true", help="skip the full-frame paste-back")
    ap.add_argument("--work", type=Path, help="keep the prepared target here and reuse it on the next run")
    args = ap.parse_args()

    import numpy as np
    import torch
    from tfk_phadtf.infer import generate, load_nets
    from tfk_phadtf.resources import face_model
    from tfk_phadtf.subject import Subject

    from tfk.testing.synth import synthetic_speech

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        ws, w, front = prepare(work, args.bfm_grid, args.device, args.width)
        prep = time.perf_counter() - t0
        sub = Subject.from_workspace(ws)
        nets = load_nets(w["atcnet"], w["net_g"], w["net_mem"], args.device)
        fm = face_model(front, args.device)
        wav = synthetic_speech(args.seconds, 16000, seed=3).astype(np.float32)
        generate(sub, nets, fm, wav[:16000], work / "warm.mp4", device=args.device)  # warm-up
        timings: dict = {}
        t0 = time.perf_counter()
        generate(
            sub, nets, fm, wav, work / "out.mp4", device=args.device, full_frame=not args.face_only, timings=timings
        )
        wall = time.perf_counter() - t0
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
    n = timings["frames"]
    outside = max(0.0, wall - timings["networks"])
    result = {
        "device": args.device if not args.device.startswith("cuda") else torch.cuda.get_device_name(0),
        "threads": torch.get_num_threads(),
        "width": args.width,
        "vertices": int(fm.mean.shape[0]),
        "frames": n,
        "wall_s": round(wall, 3),
        "frames_per_s": round(n / wall, 3),
        "networks_s": round(timings["networks"], 3),
        "outside_share": round(outside / wall, 3),
        "target_outside_share": 0.2,
        "prepare_s": round(prep, 1),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
