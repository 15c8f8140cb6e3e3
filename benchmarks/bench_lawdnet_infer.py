"""LawDNet inference benchmark: pipeline overhead around the generator, and memory vs template length.

Speed (target: the pipeline adds at most 20% to the generator's own time): a full-size LawDNet with random
weights in the published layout at mouth 288 / grid 60, batch 20, on the shared real clip (or a synthetic
one). Measured side by side in one run:

* ``generator_alone``: the same number of batched forwards on the same inputs, nothing else running;
* ``pipeline``: :meth:`Dubber.dub` (decode + cached crops + mask in a reader thread, generator, paste-back +
  H.264/AAC encode in a writer thread), template cache already warm.

``overhead = pipeline_wall / generator_alone - 1``; ``outside_share = 1 - generator_in_pipeline / wall``.

Memory (target: a 60 s template within 1.3x of a 10 s one): each length runs in its own process
(``ru_maxrss``): template preprocessing (landmarks, crop cache) + dubbing of audio as long as the template.
The generator there is a pass-through stub by default (``--mem-generator stub``) so that the 60 s run takes
minutes, not hours, on CPU; the generator's own memory is bounded by the batch and does not depend on the
length. ``--mem-generator tiny`` uses the real network at mouth 64 / grid 8 instead.

Usage: ``python benchmarks/bench_lawdnet_infer.py [--frames 40] [--skip-memory] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins" / "tfk-lawdnet"))


def _weights(d: Path, mouth_full: bool = True) -> dict[str, Path]:
    import torch
    from tfk_lawdnet.models.lawdnet import LawDNet

    from tfk.audio.deepspeech_pt import DeepSpeech2

    torch.manual_seed(0)
    gen = d / "checkpoint_epoch_170.pth"
    if not gen.exists():
        sd = {"module." + k: v for k, v in LawDNet().state_dict().items()}
        torch.save({"epoch": 171, "state_dict": {"net_g": sd}}, gen)
    dp2 = d / "dp2_small.pt"
    if not dp2.exists():
        torch.save(DeepSpeech2(hidden_size=64, hidden_layers=2).state_dict(), dp2)
    return {"generator": gen, "dp2": dp2}


def _require(w: dict[str, Path]):
    return lambda aid: w["dp2"] if "deepspeech" in aid else w["generator"]


def _speech(seconds: float, path: Path) -> Path:
    import numpy as np

    from tfk.media import load_audio, write_wav

    shared = Path(os.environ.get("TFK_SHARED_MEDIA", HERE.parent.parent / "shared" / "media"))
    if (shared / "RD_Radio34_002.wav").exists():
        a = load_audio(shared / "RD_Radio34_002.wav")
        a = np.tile(a, int(np.ceil(seconds * 16000 / len(a))))[: int(seconds * 16000)]
    else:
        from tfk.testing.synth import synthetic_speech

        a = synthetic_speech(seconds)
    return write_wav(path, a)


def bench_speed(args, work: Path) -> dict:
    import numpy as np
    import torch
    from tfk_lawdnet.infer import InferStats, load_dubber

    torch.set_num_threads(args.threads or torch.get_num_threads())
    w = _weights(work)
    shared = Path(os.environ.get("TFK_SHARED_MEDIA", HERE.parent.parent / "shared" / "media"))
    tpl_path = shared / "WDA_KatieHill_000.mp4"
    if not tpl_path.exists():
        from tfk.testing.synth import make_talking_clip

        tpl_path = make_talking_clip(work / "tpl.mp4", seconds=4.0, size=512)
    d = load_dubber(
        w["generator"],
        args.device,
        batch_size=args.batch_size,
        mouth=args.mouth,
        grid_size=args.grid,
        require=_require(w),
    )
    t = time.perf_counter()
    tpl = d.prepare(tpl_path, cache_root=work / "cache")
    prep = time.perf_counter() - t
    audio = _speech(args.frames / 25, work / "speech.wav")

    def generator_alone() -> float:
        total = 0.0
        with torch.inference_mode():
            for s in range(0, args.frames, args.batch_size):
                n = min(args.batch_size, args.frames - s)
                idx = [i % tpl.n_frames for i in range(s, s + n)]
                src = torch.from_numpy(tpl.read_crops(idx)).permute(0, 3, 1, 2).float().div(255).to(dev)
                aud = torch.randn(n, 29, 5, device=dev)
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                out = d.net(src, ref.expand(n, -1, -1, -1), aud)
                out.float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                total += time.perf_counter() - t
        return total

    # generator alone, same batches
    dev = torch.device(d.device)
    ref = torch.from_numpy(np.concatenate(list(tpl.read_crops(tpl.reference_indices(456))), -1).copy())
    ref = ref.permute(2, 0, 1)[None].float().div(255).to(dev)
    alone_before = generator_alone()
    st = InferStats()
    d.dub(tpl, audio, work / "out.mp4", stats=st)
    wall = st.wall
    alone_after = generator_alone()
    alone = min(alone_before, alone_after)
    return {
        "device": d.device,
        "threads": torch.get_num_threads(),
        "mouth": args.mouth,
        "grid": args.grid,
        "batch_size": args.batch_size,
        "frames": st.frames,
        "template_prepare_s": round(prep, 2),
        "generator_alone_s": round(alone, 2),
        "generator_alone_runs_s": [round(alone_before, 2), round(alone_after, 2)],
        "pipeline_wall_s": round(wall, 2),
        "generator_in_pipeline_s": round(st.generator, 2),
        "features_s": round(st.features, 3),
        "fps_pipeline": round(st.frames / wall, 3),
        "fps_generator_alone": round(st.frames / alone, 3),
        "overhead_vs_generator_alone": round(wall / alone - 1, 3),
        "outside_generator_share": round(1 - st.generator / wall, 3),
        "target_overhead_max": 0.20,
    }


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mem_child(seconds: float, tpl: str, work: str, generator: str) -> None:
    import torch
    from tfk_lawdnet.infer import Dubber, load_dubber

    torch.set_num_threads(2)
    w = _weights(Path(work))
    work_p = Path(work)
    audio = _speech(seconds, work_p / f"speech{seconds:g}.wav")
    if generator == "stub":
        from tfk_lawdnet.features import frontend_runner

        class Stub(torch.nn.Module):
            def forward(self, s, r, a):
                return s

        d = Dubber(Stub(), "dp2", frontend_runner("dp2", w["dp2"]), mouth=64, batch_size=20)
    else:
        d = load_dubber(w["generator"], "cpu", batch_size=20, mouth=64, grid_size=8, require=_require(w))
    t = time.perf_counter()
    tp = d.prepare(tpl, cache_root=tempfile.mkdtemp(prefix="cache", dir=work))  # fresh: prep is measured
    prep = time.perf_counter() - t
    rss_prep = _peak_rss_mb()
    d.dub(tp, audio, work_p / f"mem{seconds:g}.mp4")
    rss = _peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "frames": tp.n_frames,
                "prepare_s": round(prep, 1),
                "peak_rss_after_prepare_mb": round(rss_prep, 1),
                "peak_rss_mb": round(rss, 1),
                "wall_s": round(time.perf_counter() - t, 1),
            }
        )
    )


def bench_memory(args, work: Path) -> dict:
    from tfk.testing.synth import make_talking_clip

    _weights(work)
    out: dict = {"generator": args.mem_generator}
    for sec in (10, 60):
        tpl = work / f"tpl{sec}.mp4"
        if not tpl.exists():
            make_talking_clip(tpl, seconds=sec, size=args.mem_size)
        proc = subprocess.run(
            [sys.executable, __file__, "--_mem-child", str(sec), str(tpl), str(work), args.mem_generator],
            capture_output=True,
            text=True,
            check=True,
        )
        out[f"t{sec}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["ratio_60_vs_10"] = round(out["t60"]["peak_rss_mb"] / out["t10"]["peak_rss_mb"], 3)
    out["target_ratio_max"] = 1.3
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_mem-child":
        _mem_child(float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--mouth", type=int, default=288)
    p.add_argument("--grid", type=int, default=60)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--mem-generator", choices=("stub", "tiny"), default="stub")
    p.add_argument("--mem-size", type=int, default=256, help="template frame size for the memory runs")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("TFK_HOME", tempfile.mkdtemp(prefix="tfk-bench-home-"))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tfk-bench-lawdnet-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {}
    if not args.skip_speed:
        result["speed"] = bench_speed(args, work)
        print(json.dumps({"speed": result["speed"]}, indent=1), flush=True)
    if not args.skip_memory:
        result["memory"] = bench_memory(args, work)
        print(json.dumps({"memory": result["memory"]}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
