"""Benchmark: pure-PyTorch rasteriser on a BFM-sized mesh at 224² (target: <= 80 ms on 2 CPU cores).

A UV sphere of 140 × 250 (34,752 vertices, 69,500 faces, the size of a BFM face mesh), x/y scaled by 0.8
into a 224² image. Timed: rasterise + interpolate (vertex colours) + backward to positions and colours.

    python benchmarks/bench_renderer.py [--threads 2] [--repeat 10] [--size 224] [--device cpu] [--check]

Prints one human line per phase and a final JSON line; ``--check`` exits 1 when the total exceeds the target.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

TARGET_MS = 80.0


def uv_sphere(n_lat: int = 140, n_lon: int = 250):
    """Vertices ``[V,3]`` and faces ``[F,3]`` of a UV sphere (poles + n_lat-1 rings of n_lon)."""
    import torch

    verts = [[0.0, 0.0, 1.0]]
    for i in range(1, n_lat):
        th = math.pi * i / n_lat
        for j in range(n_lon):
            ph = 2 * math.pi * j / n_lon
            verts.append([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
    verts.append([0.0, 0.0, -1.0])
    faces = []
    for j in range(n_lon):
        faces.append([0, 1 + j, 1 + (j + 1) % n_lon])
    for i in range(n_lat - 2):
        r0, r1 = 1 + i * n_lon, 1 + (i + 1) * n_lon
        for j in range(n_lon):
            a, b = r0 + j, r0 + (j + 1) % n_lon
            c, d = r1 + j, r1 + (j + 1) % n_lon
            faces.append([a, c, b])
            faces.append([b, c, d])
    last = len(verts) - 1
    r0 = 1 + (n_lat - 2) * n_lon
    for j in range(n_lon):
        faces.append([r0 + j, last, r0 + (j + 1) % n_lon])
    return torch.tensor(verts, dtype=torch.float32), torch.tensor(faces, dtype=torch.long)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from tfk.tdmm.render import interpolate, rasterize

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    verts, faces = uv_sphere()
    verts, faces = verts.to(dev), faces.to(dev)
    s = args.size
    screen0 = torch.stack(
        ((verts[:, 0] * 0.8 + 1) * s / 2, (1 - verts[:, 1] * 0.8) * s / 2, (verts[:, 2] + 2) / 4), -1
    )[None]
    colors0 = ((verts + 1) / 2)[None]

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    t_rast, t_interp, t_total = [], [], []
    frags = None
    for _ in range(args.repeat + 1):
        screen = screen0.clone().requires_grad_(True)
        colors = colors0.clone().requires_grad_(True)
        sync()
        t0 = time.perf_counter()
        frags = rasterize(screen, faces, (s, s))
        sync()
        t1 = time.perf_counter()
        img = interpolate(colors, screen, faces, frags)
        img.square().mean().backward()
        sync()
        t2 = time.perf_counter()
        t_rast.append((t1 - t0) * 1e3)
        t_interp.append((t2 - t1) * 1e3)
        t_total.append((t2 - t0) * 1e3)
    # the first call is a warm-up
    rast, interp, total = (statistics.median(x[1:]) for x in (t_rast, t_interp, t_total))
    coverage = float(frags.mask.float().mean())
    analytic = math.pi * (0.8 * s / 2) ** 2 / s**2
    print(f"mesh: {verts.shape[0]} vertices, {faces.shape[0]} faces, {s}x{s}, {args.threads} threads, {dev}")
    print(f"rasterise          {rast:7.1f} ms")
    print(f"interpolate+backward {interp:5.1f} ms")
    print(f"total              {total:7.1f} ms  (target <= {TARGET_MS:.0f} ms)")
    print(f"coverage {coverage:.4f} (analytic {analytic:.4f})")
    result = {
        "benchmark": "renderer",
        "vertices": int(verts.shape[0]),
        "faces": int(faces.shape[0]),
        "size": s,
        "threads": args.threads,
        "device": str(dev),
        "rasterize_ms": round(rast, 2),
        "interpolate_backward_ms": round(interp, 2),
        "total_ms": round(total, 2),
        "target_ms": TARGET_MS,
        "coverage": round(coverage, 4),
        "analytic_coverage": round(analytic, 4),
    }
    print(json.dumps(result))
    if args.check and total > TARGET_MS:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
