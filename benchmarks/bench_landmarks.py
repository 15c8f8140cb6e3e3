"""Landmark throughput with the dlib backend on the real 512² clip: tracking vs detecting every frame.

Target (issue "Shared toolbox"): at least 40 frames/s on 2 cores in the default (tracking) mode.
Run: ``python benchmarks/bench_landmarks.py [VIDEO]`` (default ``../shared/media/WDA_KatieHill_000.mp4``).
Decoding is done once up front so the figures are landmark time only; the same frames feed both modes.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    import numpy as np

    from tfk.face import track_landmarks
    from tfk.media import iter_frames

    default = Path(__file__).resolve().parents[2] / "shared" / "media" / "WDA_KatieHill_000.mp4"
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    if not video.exists():
        print(f"no clip at {video}; pass a video path", file=sys.stderr)
        return 66
    frames = list(iter_frames(video))
    track_landmarks(frames[:5])  # load the predictor once, outside the timings
    results = {}
    for mode in ("track", "detect"):
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            tr = track_landmarks(frames, mode=mode)
            best = min(best, time.perf_counter() - t0)
        results[mode] = {"fps": len(frames) / best, "detected": int(tr.detected.sum()), "points": tr.points}
    drift = float(np.linalg.norm(results["track"]["points"] - results["detect"]["points"], axis=-1).mean())
    print(f"{'mode':<8}{'frames/s':>10}{'faces':>8}")
    for mode, r in results.items():
        print(f"{mode:<8}{r['fps']:>10.1f}{r['detected']:>5}/{len(frames)}")
    print(f"mean distance tracking vs detection: {drift:.2f} px")
    summary = {m: {"fps": round(r["fps"], 1), "detected": r["detected"]} for m, r in results.items()}
    print(json.dumps({"frames": len(frames), "size": list(frames[0].shape[:2]), **summary, "drift_px": drift}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
