"""``tfk batch preprocess MODEL JOBS`` and ``tfk batch status JOBS``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click


@click.group("batch", help="Run a stage over a whole dataset: a local process pool or a Ray cluster.")
def batch_group() -> None:
    pass


@batch_group.command("preprocess", context_settings={"ignore_unknown_options": False})
@click.argument("model")
@click.argument("jobs", type=click.Path(path_type=Path))
@click.argument("job_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PREPROCESS OPTIONS]")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--max-parallel", type=click.IntRange(min=1), default=None, help="Jobs at once (default: CPUs/job).")
@click.option("--cpus-per-job", type=click.FloatRange(min=0.01), default=1.0, show_default=True)
@click.option("--gpus-per-job", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--shard", default=None, metavar="I/N", help="Only jobs whose index is I modulo N (array jobs).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True, help="Tries after 75/signals.")
@click.option("--retry-delay", type=click.FloatRange(min=0), default=5.0, show_default=True, help="First back-off (s).")
@click.option("--ray-address", default=None, help="Ray cluster (default: RAY_ADDRESS, else start one here).")
@click.option("--batch-dir", type=click.Path(path_type=Path), default=None, help="Records, logs and batch.json.")
@click.option("--force", is_flag=True, help="Pass --force to every job (redo every step).")
def batch_preprocess_cmd(
    model: str,
    jobs: Path,
    job_args: tuple[str, ...],
    executor: str,
    max_parallel: int | None,
    cpus_per_job: float,
    gpus_per_job: float,
    shard: str | None,
    retries: int,
    retry_delay: float,
    ray_address: str | None,
    batch_dir: Path | None,
    force: bool,
) -> None:
    """Preprocess every job of JOBS (CSV, JSONL or a directory of videos) with MODEL; re-runs resume."""
    from tfk.batch.jobs import parse_shard
    from tfk.batch.policy import RetryPolicy
    from tfk.batch.report import BatchReporter
    from tfk.batch.runner import BatchConfig, run_batch
    from tfk.batch.state import default_batch_dir

    if gpus_per_job and executor == "local" and gpus_per_job != int(gpus_per_job):
        from tfk.errors import UsageError

        raise UsageError("--gpus-per-job must be a whole number with the local executor")
    cfg = BatchConfig(
        model=model,
        jobs_path=jobs,
        executor=executor,
        max_parallel=max_parallel,
        cpus_per_job=cpus_per_job,
        gpus_per_job=gpus_per_job,
        shard=parse_shard(shard),
        policy=RetryPolicy(retries=retries, delay=retry_delay),
        ray_address=ray_address,
        batch_dir=batch_dir,
        extra_args=tuple(job_args),
        force=force,
    )
    mode = os.environ.get("TFK_PROGRESS", "auto")
    if mode == "auto":
        from tfk.console import is_interactive

        mode = "rich" if is_interactive() else "plain"
    from tfk.batch.jobs import load_jobs, select_shard

    total = len(select_shard(load_jobs(jobs), cfg.shard))
    code = run_batch(cfg, BatchReporter(total, mode))
    click.echo(str((batch_dir or default_batch_dir(jobs)) / "batch.json"))
    if code:
        raise click.exceptions.Exit(code)


@batch_group.command("status")
@click.argument("jobs", type=click.Path(path_type=Path))
@click.option("--model", default=None, help="Only this model (default: every model run on JOBS).")
@click.option("--batch-dir", type=click.Path(path_type=Path), default=None, help="As given to batch preprocess.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def batch_status_cmd(jobs: Path, model: str | None, batch_dir: Path | None, as_json: bool) -> None:
    """Each job of JOBS: done, failed (exit code, reason), running or pending."""
    from tfk.batch.jobs import load_jobs
    from tfk.batch.policy import describe
    from tfk.batch.state import STATES, BatchState, default_batch_dir

    job_list = load_jobs(jobs)
    state = BatchState(batch_dir or default_batch_dir(jobs))
    models = [model] if model else state.models() or ["-"]
    rows = [r for m in models for r in state.rows(m, job_list)]
    counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
    if as_json:
        click.echo(json.dumps({"batch_dir": str(state.root), "counts": counts, "jobs": rows}, indent=2))
        return
    from rich.table import Table

    from tfk.console import err_console

    table = Table(title=f"{jobs}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for col in ("model", "uid", "state", "exit", "tries", "time", "why"):
        table.add_column(col)
    for r in rows:
        code = "" if r["exit_code"] in (None, 0) else describe(int(r["exit_code"]))
        dur = f"{r['duration']:.1f}s" if r["duration"] is not None else ""
        why = "cached" if r["state"] == "done" and r["cached"] else r["reason"] or ""
        table.add_row(r["model"], r["uid"], r["state"], code, str(r["attempts"] or ""), dur, why)
    err_console().print(table)
    for r in rows:
        code = "" if r["exit_code"] is None else str(r["exit_code"])
        click.echo("\t".join([r["model"], r["uid"], r["state"], code, r["reason"] or ""]))
