"""``tfk batch`` benchmarks, measured side by side in one run (python benchmarks/bench_batch.py).

Eight short jobs: the echo fixture plugin's preprocess (normalise to 25 fps H.264, per-frame statistics,
summary) of generated 2 s 128x128 clips, each from an empty TFK_HOME, through ``tfk.batch.run_batch``.

1. Throughput of the local pool at ``--max-parallel 2`` vs 1 on a 2-core machine. Target >= 1.6x.
2. Overhead of the Ray executor over the local pool, both at parallelism 2, for the same jobs, on a Ray
   instance started before timing (``ray.init(num_cpus=2)``: a running cluster, as a user has one; its
   start-up time is printed apart). Target <= 15 %. Skipped when Ray is not installed (``tfk[ray]``).

Best of ``--repeats`` runs each, alternating. Prints a table, then one JSON object on the last line.
Needs the echo plugin (tests/fixtures/tfk-echo, installed by scripts/install.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


#: CPU seconds the jobs' processes used in the last run of each configuration (local pool only: Ray's workers
#: are not our children). cpu / wall well below the parallelism means the machine was busy with other work.
CPU: dict[str, float] = {}


def _jobs(tmp: Path, n: int) -> Path:
    from tfk.testing.synth import make_talking_clip

    rows = []
    for i in range(n):
        clip = make_talking_clip(tmp / f"clip{i}.mp4", seconds=2.0, size=128, seed=i)
        rows.append(json.dumps({"input": str(clip), "uid": f"job{i}"}))
    path = tmp / "jobs.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def _time_batch(jobs: Path, home: Path, executor: str, parallel: int) -> float:
    from tfk.batch import BatchConfig, run_batch

    os.environ["TFK_HOME"] = str(home)
    cfg = BatchConfig(model="echo", jobs_path=jobs, executor=executor, max_parallel=parallel, pull_weights=False)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    code = run_batch(cfg)
    dt = time.perf_counter() - t
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[f"{executor} p{parallel}"] = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    if code != 0:
        raise SystemExit(f"batch failed with exit code {code}; logs under {home}/batches")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TFK_PROGRESS", "none")
    with tempfile.TemporaryDirectory(prefix="tfk-bench-batch-") as d:
        tmp = Path(d)
        jobs = _jobs(tmp, args.jobs)
        runs = {"local p1": [], "local p2": [], "ray p2": []}
        ray = None
        ray_start = None
        if not args.no_ray:
            try:
                import ray as ray_mod

                t = time.perf_counter()
                ray_mod.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
                ray_start, ray = time.perf_counter() - t, ray_mod
            except ImportError:
                ray = None
        try:
            n = 0
            for _ in range(args.repeats):
                for name, executor, par in (("local p1", "local", 1), ("local p2", "local", 2), ("ray p2", "ray", 2)):
                    if executor == "ray" and ray is None:
                        continue
                    n += 1
                    runs[name].append(_time_batch(jobs, tmp / f"home{n}", executor, par))
        finally:
            if ray is not None:
                ray.shutdown()
    best = {k: min(v) for k, v in runs.items() if v}
    speedup = best["local p1"] / best["local p2"]
    result = {
        "jobs": args.jobs,
        "cpus": os.cpu_count(),
        "seconds": {k: round(v, 2) for k, v in best.items()},
        "speedup_p2_vs_p1": round(speedup, 2),
        "speedup_target": 1.6,
    }
    print(f"{'configuration':<12} {'best s':>8} {'job cpu s':>9}  all runs")
    for k, v in runs.items():
        if v:
            cpu = f"{CPU[k]:9.1f}" if k in CPU and not k.startswith("ray") else f"{'-':>9}"
            print(f"{k:<12} {min(v):8.2f} {cpu}  {', '.join(f'{x:.2f}' for x in v)}")
    result["job_cpu_s"] = {k: round(v, 2) for k, v in CPU.items() if not k.startswith("ray")}
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"local pool, parallelism 2 vs 1: {speedup:.2f}x (target >= 1.6x)")
    if "ray p2" in best:
        overhead = best["ray p2"] / best["local p2"] - 1
        result.update(ray_overhead=round(overhead, 3), ray_overhead_target=0.15, ray_start_s=round(ray_start or 0, 2))
        print(f"ray executor vs local pool (parallelism 2): {overhead:+.1%} (target <= +15%)")
        print(f"ray.init(num_cpus=2) start-up, not counted above: {ray_start:.1f}s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
