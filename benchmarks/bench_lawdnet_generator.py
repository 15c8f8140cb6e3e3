"""LawDNet generator inference speed on CPU at the release size (mouth 288: 468x360 crops, control grid 60).

Random weights, ``torch.inference_mode``. For each batch size it times the per-batch inference path a dubbing
run executes around the network -- uint8 HWC crops -> float CHW in [0,1] -> soft source mask -> generator
(references prepared once, as for a template video) -> clamp -> uint8 HWC -- and reports frames/s of the whole
path, frames/s of the generator forward alone, and the share of wall time spent outside the forward.

    python benchmarks/bench_lawdnet_generator.py                      # batches 1, 4, 20
    python benchmarks/bench_lawdnet_generator.py --batch 20 --iters 2 --dead-layer

Prints one human line per batch size and a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "plugins" / "tfk-lawdnet"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def bench(batch: int, iters: int, mouth: int, grid: int, dead_layer: bool) -> dict:
    import numpy as np
    import torch
    from tfk_lawdnet.mask import source_mask
    from tfk_lawdnet.models.lawdnet import LawDNet, crop_size

    torch.manual_seed(0)
    net = LawDNet(coarse_grid_size=grid, compute_dead_layer=dead_layer).eval()
    h, w = crop_size(mouth)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8)
    audio = torch.from_numpy(rng.standard_normal((batch, 29, 5)).astype(np.float32))
    mask = torch.from_numpy(np.array(source_mask(h, w), dtype=np.float32))
    refs = torch.rand(1, 15, h, w).expand(batch, -1, -1, -1).contiguous()  # prepared once per template

    def run_once() -> tuple[float, float]:
        t0 = time.perf_counter()
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255.0)
        x = x * (1.0 - mask)
        t1 = time.perf_counter()
        y = net(x, refs, audio)
        t2 = time.perf_counter()
        out = (y.clamp(0, 1) * 255.0).permute(0, 2, 3, 1).to(torch.uint8).numpy()
        assert out.shape == (batch, h, w, 3)
        t3 = time.perf_counter()
        return t3 - t0, t2 - t1

    with torch.inference_mode():
        run_once()  # warm-up (oneDNN primitive creation)
        totals, fwds = [], []
        for _ in range(iters):
            tot, fwd = run_once()
            totals.append(tot)
            fwds.append(fwd)
    tot, fwd = min(totals), min(fwds)
    return {
        "batch": batch,
        "mouth": mouth,
        "crop": [h, w],
        "grid": grid,
        "dead_layer": dead_layer,
        "iters": iters,
        "fps_pipeline": batch / tot,
        "fps_forward": batch / fwd,
        "sec_per_batch": tot,
        "share_outside_forward": (tot - fwd) / tot,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4, 20])
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--mouth", type=int, default=288)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--dead-layer", action="store_true", help="also compute the inert first LAW branch")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for b in args.batch:
        r = bench(b, args.iters, args.mouth, args.grid, args.dead_layer)
        results.append(r)
        print(
            f"batch {b:3d}: {r['fps_pipeline']:.3f} frames/s end-to-end, {r['fps_forward']:.3f} frames/s forward, "
            f"{100 * r['share_outside_forward']:.2f}% of wall time outside the forward "
            f"({r['sec_per_batch']:.2f} s/batch)",
            flush=True,
        )
    print(
        json.dumps(
            {
                "bench": "lawdnet_generator_cpu",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
