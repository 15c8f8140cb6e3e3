"""ER-NeRF: render time of one frame with the occupancy marcher vs the uniform marcher, side by side, the
PSNR between the two images, and training steps/s of the tiny head stage.

The scene: a head network whose density is fitted (a few hundred steps, same seed every run) to a solid
ellipsoid in the scene box, the 128^3 occupancy grid built by the original update rule (all cells, EMA,
dilation, threshold), a camera at the AD-NeRF distance. Both marchers use the same network, camera,
audio code and step size; the occupancy marcher takes at most 16 samples per ray in occupied cells (the
original), the uniform one every lattice point between near and far.

Run: ``python benchmarks/bench_ernerf.py [--size 512] [--threads N] [--device cpu|cuda] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "tfk-ernerf"))


def fitted_model(device: str, steps: int = 300):
    import torch
    from tfk_ernerf.models.network import ERNeRF, NetConfig

    torch.manual_seed(0)
    m = ERNeRF(NetConfig()).to(device)
    enc_a = m.encode_audio(torch.zeros(8, 29, 16, device=device)).detach()
    eye = torch.zeros(1, 1, device=device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    radii = torch.tensor([0.45, 0.3, 0.5], device=device)
    g = torch.Generator(device="cpu").manual_seed(0)
    for _ in range(steps):
        x = (torch.rand(4096, 3, generator=g) * 2 - 1).to(device) * torch.tensor([1, 0.5, 1.0], device=device)
        inside = ((x / radii) ** 2).sum(-1) < 1
        target = torch.where(inside, torch.full_like(x[:, 0], math.log(50.0)), torch.full_like(x[:, 0], -8.0))
        h = m.density(x, enc_a, eye)["sigma"]
        loss = ((torch.log(h + 1e-8) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m, enc_a, eye


def build_grid(m, enc_a, eye, eval_res: int | None = None) -> float:
    import torch
    from tfk_ernerf.render.occupancy import bitfield_from_grid, update_density_grid

    t0 = time.perf_counter()
    with torch.no_grad():
        update_density_grid(m.density_grid, lambda x: m.density(x, enc_a, eye)["sigma"], 1.0, eval_res=eval_res)
    bf, mean = bitfield_from_grid(m.density_grid, m.cfg.density_thresh)
    m.density_bitfield.copy_(bf)
    m.mean_density = mean
    return time.perf_counter() - t0


def render_pair(m, enc_a, eye, size: int, device: str, chunk: int = 1 << 14) -> dict:
    """Both marchers on the same frame, interleaved chunk by chunk so that load changes on a shared machine
    hit both timings alike; the sum over chunks is each marcher's frame time."""
    import torch
    from tfk_ernerf.render.cameras import get_rays, nerf_matrix_to_ngp
    from tfk_ernerf.render.renderer import Conditioning, render_rays

    m.eval()
    m.testing = True
    c2w = torch.eye(4)
    c2w[2, 3] = 0.76
    pose = nerf_matrix_to_ngp(c2w).to(device)
    focal = size * 2.4  # Obama's 1100 px focal at 450 px: the head box fills the frame
    intr = (focal, focal, size / 2, size / 2)
    cond = Conditioning(enc_a, m.individual_codes[:1], eye)
    secs = {"occupancy": 0.0, "uniform": 0.0}
    imgs = {k: torch.empty(size * size, 3) for k in secs}
    with torch.no_grad():
        for s0 in range(0, size * size, chunk):
            inds = torch.arange(s0, min(s0 + chunk, size * size))
            o, d = get_rays(pose, intr, size, size, inds)
            bg = torch.ones(inds.numel(), 3, device=device)
            for marcher in secs:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                r = render_rays(m, o.to(device), d.to(device), cond, bg, marcher)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                secs[marcher] += time.perf_counter() - t0
                imgs[marcher][inds] = r["image"].float().cpu()
    out = {f"{k}_s": v for k, v in secs.items()}
    mse = float(((imgs["occupancy"] - imgs["uniform"]) ** 2).mean())
    out["psnr_between_db"] = -10 * math.log10(max(mse, 1e-12))
    out["speedup"] = out["uniform_s"] / out["occupancy_s"]
    out["covered_fraction"] = float((imgs["uniform"] < 0.99).any(-1).float().mean())
    return out


def train_speed(device: str, steps: int = 12, size: int = 64, rays: int = 4096) -> dict:
    import shutil
    import tempfile

    from tfk_ernerf.data import Subject
    from tfk_ernerf.synthetic import make_subject
    from tfk_ernerf.train.config import preset
    from tfk_ernerf.train.trainer import Trainer

    tmp = Path(tempfile.mkdtemp(prefix="bench-ernerf-"))
    try:
        d = make_subject(tmp / "data", n_frames=24, size=size)
        cfg = preset("tiny", iters_head=steps + 2, num_rays=rays, eval_interval=10**6)
        tr = Trainer(Subject.load(d, "train"), None, tmp / "head", "head", cfg, device)
        for f in tr.train.frames[:2]:  # warm-up incl. the first grid update
            tr.step(f)
        t0 = time.perf_counter()
        for i in range(steps):
            tr.step(tr.train.frames[i % len(tr.train)])
        dt = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"train_steps_per_s": steps / dt, "train_rays_per_step": rays, "train_image": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--grid-eval-res", type=int, default=None, help="evaluate the grid update on a coarser lattice (default: 128)"
    )
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    m, enc_a, eye = fitted_model(args.device)
    res = {"device": args.device, "threads": torch.get_num_threads(), "size": args.size}
    res["grid_eval_res"] = args.grid_eval_res or 128
    res["grid_update_s"] = build_grid(m, enc_a, eye, args.grid_eval_res)
    res["occupied_cells"] = float(m.density_grid[0].gt(min(m.mean_density, 10)).float().mean())
    res.update(render_pair(m, enc_a, eye, args.size, args.device))
    res.update(train_speed(args.device))
    print(json.dumps(res, indent=2))
    print(
        f"{args.size}x{args.size} frame on {args.device}: occupancy {res['occupancy_s']:.2f} s, "
        f"uniform {res['uniform_s']:.2f} s -> {res['speedup']:.1f}x; PSNR between them "
        f"{res['psnr_between_db']:.1f} dB; training {res['train_steps_per_s']:.2f} steps/s (4096 rays)"
    )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
