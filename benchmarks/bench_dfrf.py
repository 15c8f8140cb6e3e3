"""DFRF rendering speed: the original test-time sampling loop (faithful re-statement) vs tfk ``exact`` vs ``fast``.

Same weights, references, pose, audio code and background for every variant, one run. Reports seconds per
frame, the speed-up over the original loop, ``max |exact - original|`` and the PSNR of ``fast`` (and of each of
its approximations alone) against ``exact``.

Run: ``python benchmarks/bench_dfrf.py [--size 32] [--device cpu|cuda] [--threads N] [--noise] [--json out.json]``.
Without ``--noise`` (``tfk infer dfrf --no-noise``) both sides start every slot at ``mu``; with it both draw
slot noise like the original (default of ``tfk infer dfrf``), and only the times are compared.
The weights are random (no trained DFRF checkpoint is available here) with a raised density bias: 2 gives a
partly transparent volume (no ray terminates early), 20 an opaque one (rays stop mid-way, as they do on a
trained head's surface); pass ``--checkpoint FILE`` to time real weights instead.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=32, help="frame size (square); 512 is the real one")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--chunk", type=int, default=0, help="rays per batch for tfk exact/fast (0 = auto)")
    ap.add_argument("--checkpoint", type=Path, help="a *_head.tar to time instead of random weights")
    ap.add_argument("--density-bias", type=float, default=2.0, help="density bias of the random weights")
    ap.add_argument("--skip-original", action="store_true", help="do not time the original loop (large sizes)")
    ap.add_argument(
        "--noise",
        action="store_true",
        help="draw slot noise like the original (speed only: the two draw in different orders, so the outputs differ)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from tfk_dfrf.models.dfrf import DFRF, load_dfrf
    from tfk_dfrf.render.original_loop import render_frame_original
    from tfk_dfrf.render.renderer import EXACT, FAST, Quality, References, Renderer
    from tfk_dfrf.testing_scene import look_pose, smooth_images

    dev = torch.device(args.device)
    torch.manual_seed(0)
    if args.checkpoint:
        model, _ = load_dfrf(args.checkpoint, dev)
    else:
        model = DFRF().to(dev).eval()
        with torch.no_grad():
            for p in model.position_warp.parameters():
                p.normal_(0, 0.05)
            model.coarse.nerf_model.alpha_linear.bias.fill_(args.density_bias)
            model.fine.nerf_model.alpha_linear.bias.fill_(args.density_bias)
    h = w = args.size
    focal = 0.9 * w
    imgs, bc = smooth_images(4, h, w).to(dev), smooth_images(1, h, w, seed=3)[0].to(dev)
    poses = torch.stack([look_pose(a) for a in (-6, -2, 2, 6)])[:, :3].to(dev)
    c2w, aud = look_pose(1.0, 2.0)[:3].to(dev), torch.linspace(-1, 1, 64, device=dev)
    near, far = 0.6, 1.4

    def timed(fn):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return out, time.perf_counter() - t

    res: dict = {
        "size": [h, w],
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "weights": str(args.checkpoint) if args.checkpoint else f"random (density bias {args.density_bias})",
        "slot_noise": args.noise,
    }
    gen = (lambda: torch.Generator(device=dev).manual_seed(0)) if args.noise else (lambda: None)

    def tfk(q: Quality) -> tuple[torch.Tensor, float]:
        def run():
            refs = References(model, imgs, poses, focal)  # reference work included in the frame time
            r = Renderer(model, refs, near, far, q.with_chunk(args.chunk), noise=args.noise)
            return r.render(c2w, aud, bc, focal, w / 2, h / 2)

        return timed(run)

    exact, t_exact = tfk(EXACT)
    res["exact_s_per_frame"] = t_exact
    if not args.skip_original:
        with torch.no_grad():
            orig, t_orig = timed(
                lambda: render_frame_original(
                    model, c2w, aud, bc, imgs, poses, focal, w / 2, h / 2, near, far, noise=args.noise, generator=gen()
                )
            )
        res["original_s_per_frame"] = t_orig
        res["exact_speedup"] = t_orig / t_exact
        if not args.noise:
            res["exact_max_abs_diff"] = (exact - orig).abs().max().item()
    fast, t_fast = tfk(FAST)
    res["fast_s_per_frame"] = t_fast
    res["fast_psnr_vs_exact"] = _psnr(fast, exact)
    if "original_s_per_frame" in res:
        res["fast_speedup"] = res["original_s_per_frame"] / t_fast
    parts = {
        "scale_0.5_only": Quality(scale=0.5),
        "samples_16+32_only": Quality(n_samples=16, n_importance=32),
        "skip_empty_only": Quality(skip_empty=FAST.skip_empty),
    }
    res["fast_parts"] = {}
    for name, q in parts.items():
        out, t = tfk(q)
        res["fast_parts"][name] = {"s_per_frame": t, "psnr_vs_exact": _psnr(out, exact)}
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
