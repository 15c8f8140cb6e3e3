"""StyleHEAT inference throughput: frames/s at 512² and 1024² output and the share of wall time spent outside
the networks (inversion + warper + calibrator + StyleGAN), for the streamed render + H.264/AAC writing path.

Run: ``python benchmarks/bench_styleheat.py [--config full|tiny] [--frames N] [--batch-size B] [--device cpu|cuda]``.
``full`` builds the published architecture (1024² StyleGAN2, e4e, HFGI, warper, calibrator) with random
weights in memory, ``tiny`` the test-size model; the driving semantics are synthetic (the Deep3D/landmark
preprocessing is cached per input and benchmarked with the face toolbox). Target: outside share <= 20 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "tfk-styleheat"))


def build(config: str, device: str):
    from tfk_styleheat.infer import Engine
    from tfk_styleheat.models.styleheat import StyleHEAT

    torch.manual_seed(0)
    model = StyleHEAT() if config == "full" else StyleHEAT(size=128, narrow=1 / 16, style_dim=32)
    for m in model.modules():  # small flows, as trained warpers produce
        if isinstance(m, torch.nn.Conv2d) and m.out_channels == 2:
            torch.nn.init.zeros_(m.weight)
    return Engine(model.eval().to(device), device)


class NetTimer:
    """Wall time spent inside the networks (forward + inversion), synchronised on CUDA."""

    def __init__(self, eng, device: str):
        self.total = 0.0
        self.device = device
        for name in ("forward", "invert"):
            self._wrap(eng.model, name)

    def _wrap(self, obj, name: str) -> None:
        fn = getattr(obj, name)

        def timed(*a, **k):
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = fn(*a, **k)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            self.total += time.perf_counter() - t
            return out

        setattr(obj, name, timed)


def run(eng, resolution: int, frames: int, batch: int, device: str) -> dict:
    from tfk_styleheat.infer import render, write_stream

    from tfk.media import VideoWriter

    timer = NetTimer(eng, device)
    rng = np.random.default_rng(0)
    sem = (rng.standard_normal((frames, 73)) * 0.05).astype(np.float32)
    src = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with VideoWriter(Path(d) / "bench.mp4", fps=25, audio=np.zeros(frames * 640, np.float32)) as w:
            write_stream(w, render(eng, src, sem, resolution=resolution, batch_size=batch))
        wall = time.perf_counter() - t0
    return {
        "resolution": resolution,
        "frames": frames,
        "wall_s": round(wall, 3),
        "frames_per_s": round(frames / wall, 4),
        "network_s": round(timer.total, 3),
        "outside_share": round(1 - timer.total / wall, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", choices=("full", "tiny"), default="full")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    t = time.perf_counter()
    eng = build(a.config, a.device)
    setup = time.perf_counter() - t
    rows = []
    with torch.inference_mode():
        run(eng, 512, min(2, a.frames), a.batch_size, a.device)  # warm-up
        for res in (512, 1024):
            rows.append(run(eng, res, a.frames, a.batch_size, a.device))
    report = {
        "config": a.config,
        "device": a.device,
        "threads": torch.get_num_threads(),
        "build_s": round(setup, 1),
        "rows": rows,
        "target_outside_share": 0.2,
    }
    print(json.dumps(report, indent=2))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
