"""Media benchmarks, measured side by side in one run (python benchmarks/bench_media.py).

1. Decode throughput: frames/s of ``tfk.media.iter_frames`` (RGB arrays) vs the ffmpeg binary decoding the same
   file to null (``ffmpeg -i f -f null -``), on a generated 60 s 512x512 H.264+AAC clip. Target ratio >= 0.8.
2. Peak memory (ru_maxrss, fresh subprocess each) of streaming a clip through ``iter_frames`` and re-encoding it
   with ``VideoWriter`` (audio muxed), 60 s vs 10 s. Target ratio <= 1.3.
3. Encode throughput (informational): ``VideoWriter`` (PyAV libx264) vs piping raw RGB into the ffmpeg binary.

Prints a table, then one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_STREAM_SCRIPT = """
import resource, sys, time
from tfk.media import VideoWriter, iter_frames
src, dst, backend = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
n = 0
with VideoWriter(dst, fps=25, audio=src, backend=backend) as w:
    for frame in iter_frames(src):
        w.write(frame)
        n += 1
rss = [resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
print(n, time.perf_counter() - t, *rss)
"""


def _best(fn, repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def _time_iter_frames(path: Path) -> float:
    from tfk.media import iter_frames

    t = time.perf_counter()
    for _ in iter_frames(path):
        pass
    return time.perf_counter() - t


def _time_ffmpeg_null(path: Path, extra: tuple[str, ...] = ()) -> float:
    from tfk.media import ffmpeg_exe

    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), *extra, "-f", "null", "-"]
    t = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t


def _stream_in_subprocess(src: Path, dst: Path, backend: str) -> dict[str, float]:
    """Peak RSS (MB) of the Python process and of its largest child (the ffmpeg encoder), fresh process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    argv = [sys.executable, "-c", _STREAM_SCRIPT, str(src), str(dst), backend]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout.split()
    py, child = int(out[2]) / 1024, int(out[3]) / 1024
    return {
        "frames": int(out[0]),
        "seconds": round(float(out[1]), 2),
        "python_mb": round(py, 1),
        "ffmpeg_mb": round(child, 1),
        "total_mb": round(py + child, 1),
    }


def _time_writer(frames, path: Path, backend: str) -> float:
    from tfk.media import VideoWriter

    t = time.perf_counter()
    with VideoWriter(path, fps=25, backend=backend) as w:
        for f in frames:
            w.write(f)
    return time.perf_counter() - t


def _time_ffmpeg_pipe(frames, path: Path) -> float:
    from tfk.media import ffmpeg_exe

    h, w = frames[0].shape[:2]
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo"]
    argv += ["-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "-", "-c:v", "libx264", "-preset", "veryfast"]
    argv += ["-crf", "18", "-pix_fmt", "yuv420p", str(path)]
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for f in frames:
        proc.stdin.write(f.tobytes())
    proc.stdin.close()
    proc.wait()
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the long clip")
    parser.add_argument("--short", type=float, default=10.0, help="length of the short clip (memory test)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for timings")
    args = parser.parse_args()

    from tfk.media import iter_frames, probe
    from tfk.testing.synth import make_talking_clip

    results: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="tfk-bench-media-") as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        long_clip = make_talking_clip(d / "long.mp4", seconds=args.seconds, size=args.size)
        short_clip = make_talking_clip(d / "short.mp4", seconds=args.short, size=args.size)
        results["generate_s"] = round(time.perf_counter() - t, 2)
        n = probe(long_clip).n_frames or 0

        # 1. decode throughput (alternate the two to share machine noise; best of N each)
        ours, theirs, theirs_an = [], [], []
        for _ in range(args.repeats):
            ours.append(_time_iter_frames(long_clip))
            theirs.append(_time_ffmpeg_null(long_clip))
            theirs_an.append(_time_ffmpeg_null(long_clip, ("-an",)))
        fps_ours, fps_ff, fps_ff_an = n / min(ours), n / min(theirs), n / min(theirs_an)
        results["decode"] = {
            "frames": n,
            "iter_frames_fps": round(fps_ours, 1),
            "ffmpeg_null_fps": round(fps_ff, 1),
            "ffmpeg_null_video_only_fps": round(fps_ff_an, 1),
            "ratio": round(fps_ours / fps_ff, 3),
            "ratio_video_only": round(fps_ours / fps_ff_an, 3),
            "target_ratio": 0.8,
        }

        # 2. peak memory of streaming decode + re-encode, fresh process each
        results["stream_memory"] = {}
        for backend in ("ffmpeg", "pyav"):
            mem_short = _stream_in_subprocess(short_clip, d / "short_out.mp4", backend)
            mem_long = _stream_in_subprocess(long_clip, d / "long_out.mp4", backend)
            results["stream_memory"][backend] = {
                f"{args.short:g}s": mem_short,
                f"{args.seconds:g}s": mem_long,
                "ratio": round(mem_long["total_mb"] / mem_short["total_mb"], 3),
                "target_ratio": 1.3,
            }

        # 3. encode throughput (informational)
        frames = list(iter_frames(long_clip, stop=250))
        t_ff = _best(lambda: _time_writer(frames, d / "w1.mp4", "ffmpeg"), args.repeats)
        t_av = _best(lambda: _time_writer(frames, d / "w2.mp4", "pyav"), args.repeats)
        t_pipe = _best(lambda: _time_ffmpeg_pipe(frames, d / "p.mp4"), args.repeats)
        results["encode"] = {
            "frames": len(frames),
            "video_writer_ffmpeg_fps": round(len(frames) / t_ff, 1),
            "video_writer_pyav_fps": round(len(frames) / t_av, 1),
            "bare_ffmpeg_pipe_fps": round(len(frames) / t_pipe, 1),
        }

    dec, mem, enc = results["decode"], results["stream_memory"], results["encode"]
    rows = [
        ("decode iter_frames (RGB)", f"{dec['iter_frames_fps']} fps", ""),
        ("decode ffmpeg -f null", f"{dec['ffmpeg_null_fps']} fps", ""),
        ("decode ffmpeg -an -f null", f"{dec['ffmpeg_null_video_only_fps']} fps", ""),
        ("decode ratio (vs -f null)", f"{dec['ratio']}", "PASS" if dec["ratio"] >= 0.8 else "FAIL (>= 0.8)"),
    ]
    for backend, m in mem.items():
        for length in (f"{args.short:g}s", f"{args.seconds:g}s"):
            r = m[length]
            value = f"{r['python_mb']:.0f}+{r['ffmpeg_mb']:.0f} MB"
            rows.append((f"stream peak RSS {backend} {length} (py+ff)", value, ""))
        rows.append(
            (f"stream memory ratio {backend}", f"{m['ratio']}", "PASS" if m["ratio"] <= 1.3 else "FAIL (<= 1.3)")
        )
    rows += [
        ("encode VideoWriter ffmpeg", f"{enc['video_writer_ffmpeg_fps']} fps", ""),
        ("encode VideoWriter pyav", f"{enc['video_writer_pyav_fps']} fps", ""),
        ("encode bare ffmpeg pipe", f"{enc['bare_ffmpeg_pipe_fps']} fps", "reference"),
    ]
    print(f"tfk media benchmark: {n} frames {args.size}x{args.size}, {os.cpu_count()} CPUs, best of {args.repeats}")
    for name, value, verdict in rows:
        print(f"  {name:38s} {value:>14s}  {verdict}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
