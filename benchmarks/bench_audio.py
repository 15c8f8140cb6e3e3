"""Audio feature extractors on 60 s of speech: time per extractor, and peak memory for 10 s vs 60 s.

Run: ``python benchmarks/bench_audio.py [--wav PATH]`` (default: the shared RD_Radio34_002.wav tiled, or a
synthetic signal when it is absent). Peak RSS is measured in a fresh subprocess per (extractor, length).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WAV = ROOT.parent / "shared" / "media" / "RD_Radio34_002.wav"


def speech(seconds: float, wav: str | None) -> np.ndarray:
    path = Path(wav) if wav else DEFAULT_WAV
    if path.is_file():
        from tfk.audio import load

        base = load(path, SR)
    else:
        t = np.arange(8 * SR) / SR
        base = (0.1 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    n = int(seconds * SR)
    return np.resize(base, n).astype(np.float32)


def extractors():
    from tfk.audio import deepspeech_pt as dp
    from tfk.audio.io import to_int16
    from tfk.audio.mel import mel_chunks, melspectrogram
    from tfk.audio.mfcc import deepspeech_input, mfcc

    def dp2(x):
        import torch

        torch.manual_seed(0)
        if not hasattr(dp2, "model"):
            dp2.model = dp.DeepSpeech2().eval()  # published size, random weights
        return dp.features(dp2.model, x)

    return {
        "mel_wav2lip": lambda x: mel_chunks(melspectrogram(x)),
        "mfcc_psf13": lambda x: mfcc(x),
        "ds_v01_input": lambda x: deepspeech_input(to_int16(x)),
        "dp2_frontend+net_cpu": dp2,
    }


def child(name: str, seconds: float, wav: str | None) -> None:
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    x = speech(seconds, wav)
    fn = extractors()[name]
    fn(x[:SR])  # warm-up (and model construction for DP2)
    t0 = time.perf_counter()
    out = fn(x)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"name": name, "seconds": seconds, "time_s": dt, "peak_mb": peak, "shape": list(out.shape)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wav")
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], float(a.child[1]), a.wav)
        return
    rows = []
    for name in extractors():
        for sec in (10.0, 60.0):
            cmd = [sys.executable, __file__, "--child", name, str(sec)] + (["--wav", a.wav] if a.wav else [])
            res = subprocess.run(
                cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
            )
            if res.returncode:
                print(res.stderr, file=sys.stderr)
                raise SystemExit(res.returncode)
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"{'extractor':24} {'len':>5} {'time s':>8} {'x realtime':>10} {'peak MB':>8}  shape")
    for r in rows:
        print(
            f"{r['name']:24} {r['seconds']:5.0f} {r['time_s']:8.3f} {r['seconds'] / r['time_s']:10.1f} "
            f"{r['peak_mb']:8.0f}  {r['shape']}"
        )
    for name in extractors():
        m10, m60 = (r["peak_mb"] for r in rows if r["name"] == name)
        print(f"{name}: peak 60 s / 10 s = {m60 / m10:.2f} ({m60 - m10:+.0f} MB)")


if __name__ == "__main__":
    main()
