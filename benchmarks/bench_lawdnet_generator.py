"""LawDNet generator CPU inference, old path vs new path side by side in one run (mouth 288: 468x360, grid 60).

Random weights, ``torch.inference_mode``. Both paths run the per-batch work of a dubbing run around the network
(uint8 HWC crops -> float CHW in [0,1] -> soft source mask -> generator -> clamp -> uint8 HWC); references are
one set for the whole clip, as for a template video.

* **old**: the eager fp32 path as it was -- NCHW, the 5 reference crops pushed through ``ref_in_conv`` and the
  appearance convs for every frame of every batch, the plain control-grid formula;
* **new**: what ``tfk infer lawdnet`` runs now -- the reference branch encoded once per clip
  (``LawDNet.encode_references``), channels-last convolutions, the rearranged control grid, the 2x
  upsampling blocks in sub-pixel form (4/9 of their multiply-adds), the 128 -> 3 output conv as one tap GEMM;
* **bf16** (``--bf16``): the new path under CPU bf16 autocast, reported with its PSNR against fp32 (tfk offers a
  reduced-precision CPU path only where that stays >= 40 dB).

Old and new alternate per iteration (so machine load hits both alike); the outputs are compared (max abs diff,
must be <= 1e-5). Prints one line per path and batch, the speed-up ratios, and a final JSON line.

    python benchmarks/bench_lawdnet_generator.py                       # old 1,4 vs new 1,2,4
    python benchmarks/bench_lawdnet_generator.py --old-batch 1 20 --new-batch 1 2 4 --iters 2 --bf16
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "plugins" / "tfk-lawdnet"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def _old_net(net):
    """A copy of ``net`` that runs as before the CPU work: the plain control-grid formula, the plain
    nearest-upsample-then-conv blocks and output conv (the references are passed per frame by the caller)."""
    from tfk_lawdnet.models.lawdnet import NarrowConv2d, UpBlock2d

    old = copy.deepcopy(net)
    for law in old.lawLayer_list:
        law.control_grid = law.control_grid_reference
    for m in old.modules():
        if isinstance(m, UpBlock2d):
            m.subpixel = False
        if isinstance(m, NarrowConv2d):
            m.fast = False
    return old


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--new-batch", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--mouth", type=int, default=288)
    ap.add_argument("--grid", type=int, default=60)
    ap.add_argument("--bf16", action="store_true", help="also time the new path under CPU bf16 autocast")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument(
        "--basis", choices=("wall", "cpu"), default="wall", help="ratios from wall time or from CPU seconds per frame"
    )
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from tfk_lawdnet.mask import source_mask
    from tfk_lawdnet.models.lawdnet import LawDNet, crop_size

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = LawDNet(coarse_grid_size=args.grid).eval()
    old_net = _old_net(base)
    new_net = copy.deepcopy(base).to(memory_format=torch.channels_last)
    cl = torch.channels_last
    h, w = crop_size(args.mouth)
    bmax = max(args.old_batch + args.new_batch)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (bmax, h, w, 3), dtype=np.uint8)
    audio = torch.from_numpy(rng.standard_normal((bmax, 29, 5)).astype(np.float32))
    keep = 1.0 - torch.from_numpy(np.array(source_mask(h, w), dtype=np.float32))
    ref1 = torch.rand(1, 15, h, w)

    def prep(b: int, layout=torch.contiguous_format):
        x = torch.from_numpy(crops[:b]).permute(0, 3, 1, 2).float().div_(255.0)
        return (x * keep).contiguous(memory_format=layout)

    def post(y):
        return (y.float().clamp(0, 1) * 255.0).round().permute(0, 2, 3, 1).to(torch.uint8).numpy()

    with torch.inference_mode():
        refs_new = new_net.encode_references(ref1.contiguous(memory_format=cl)).to(cl)

        def run_old(b: int):
            return post(old_net(prep(b), ref1.expand(b, -1, -1, -1), audio[:b]))

        def run_new(b: int):
            return post(new_net(prep(b, cl), None, audio[:b], refs=refs_new))

        def run_bf16(b: int):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return new_net(prep(b, cl), None, audio[:b], refs=refs_new)

        # equal output: float outputs of both paths on the same inputs
        b = min(bmax, 2)
        y_old = old_net(prep(b), ref1.expand(b, -1, -1, -1), audio[:b])
        y_new = new_net(prep(b, cl), None, audio[:b], refs=refs_new)
        max_diff = float((y_old - y_new).abs().max())
        psnr_bf16 = None
        if args.bf16:
            y_bf = run_bf16(b).float()
            mse = float(((y_bf - y_old) ** 2).mean())
            psnr_bf16 = 10 * math.log10(1.0 / max(mse, 1e-20))
        print(f"max |new - old| = {max_diff:.2e} (must be <= 1e-5)", flush=True)

        paths = [("old", args.old_batch, run_old), ("new", args.new_batch, run_new)]
        if args.bf16:
            paths.append(("bf16", args.new_batch, run_bf16))
        times: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _name, batches, fn in paths:  # warm-up (oneDNN primitive creation)
            for bb in batches:
                fn(bb)
        for _ in range(args.iters):
            for name, batches, fn in paths:
                for bb in batches:
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn(bb)
                    times.setdefault((name, bb), []).append((time.perf_counter() - t0, time.process_time() - c0))
    results = []
    for (name, bb), ts in times.items():
        wall, cpu = min(t[0] for t in ts), min(t[1] for t in ts)
        results.append(
            {"path": name, "batch": bb, "fps": bb / wall, "sec_per_batch": wall, "cpu_s_per_frame": cpu / bb}
        )
        print(
            f"{name:4s} batch {bb:3d}: {bb / wall:.3f} frames/s ({wall:.2f} s/batch), "
            f"{cpu / bb:.2f} CPU-s/frame (best of {len(ts)})",
            flush=True,
        )
    # under contention (other processes on the cores) wall time is noise; CPU seconds per frame measure the work
    basis = "cpu" if args.basis == "cpu" else "wall"
    fps = {(r["path"], r["batch"]): (1.0 / r["cpu_s_per_frame"] if basis == "cpu" else r["fps"]) for r in results}
    print(f"ratios on {basis} time", flush=True)
    best_old = max((v, k[1]) for k, v in fps.items() if k[0] == "old")
    best_new = max((v, k[1]) for k, v in fps.items() if k[0] == "new")
    same = sorted(set(args.old_batch) & set(args.new_batch))
    ratios = {f"new/old@{bb}": fps[("new", bb)] / fps[("old", bb)] for bb in same}
    ratios["best new/best old"] = best_new[0] / best_old[0]
    for k, v in ratios.items():
        print(f"speed-up {k}: {v:.2f}x", flush=True)
    print(f"fastest new batch: {best_new[1]}; fastest old batch: {best_old[1]}", flush=True)
    if psnr_bf16 is not None:
        print(f"bf16 autocast PSNR vs fp32: {psnr_bf16:.1f} dB", flush=True)
    print(
        json.dumps(
            {
                "bench": "lawdnet_generator_cpu",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "cpus": os.cpu_count(),
                "load_avg": os.getloadavg(),
                "mouth": args.mouth,
                "grid": args.grid,
                "max_abs_diff": max_diff,
                "bf16_psnr_db": psnr_bf16,
                "results": results,
                "ratio_basis": basis,
                "ratios": ratios,
                "fastest_new_batch": best_new[1],
            }
        )
    )
    return 0 if max_diff <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
