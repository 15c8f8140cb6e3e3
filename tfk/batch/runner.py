"""``run_batch``: validate the jobs, pull the weights once, fan the jobs out, retry by exit code, record.

Each job is the ordinary ``tfk preprocess MODEL INPUT --uid UID [options]`` in its own process, so the
step cache makes a re-run skip what is done, a corrupt clip fails that job alone (65, listed, not retried)
and interrupting the batch passes an interrupt on to every running job, which stops at a safe point; the
next run of the same command finishes only what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfk import errors
from tfk.batch.jobs import Job, load_jobs, select_shard
from tfk.batch.policy import RetryPolicy, by_signal, describe
from tfk.batch.report import BatchReporter
from tfk.batch.state import BatchState, default_batch_dir

CORE_JOB_OPTIONS = {"device"}  #: core preprocess options a jobs file may set per job


@dataclass
class BatchConfig:
    model: str
    jobs_path: Path
    executor: str = "local"
    max_parallel: int | None = None
    cpus_per_job: float = 1.0
    gpus_per_job: float = 0.0
    shard: tuple[int, int] | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    ray_address: str | None = None
    batch_dir: Path | None = None
    extra_args: tuple[str, ...] = ()  #: appended to every job's command line (after ``--``)
    force: bool = False
    pull_weights: bool = True


def option_args(job: Job, options: dict[str, Any]) -> list[str]:
    """The job's options as ``tfk preprocess`` flags, checked against the plugin's declared options."""
    args: list[str] = []
    for key, value in job.options.items():
        opt = options.get(key)
        if opt is None and key not in CORE_JOB_OPTIONS:
            valid = sorted(k for k, o in options.items() if not o.argument) + sorted(CORE_JOB_OPTIONS)
            raise errors.UsageError(
                f"job {job.uid}: unknown option {key!r} for preprocess", hint=f"options are: {', '.join(valid)}"
            )
        flag = "--" + key.replace("_", "-")
        if opt is not None and opt.type is bool:
            on = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
            args.append(flag if on else f"--no-{flag[2:]}")
            continue
        values = value if isinstance(value, list) else str(value).split(";") if opt and opt.multiple else [value]
        for v in values:
            args += [flag, str(v)]
    return args


def spec_key(spec: dict[str, Any], job: Job, plugin_version: str | None) -> str:
    """What a done job was run with: its command line, its input's size and mtime, the plugin version."""
    from tfk import __version__
    from tfk.fsutil import sha256_json

    try:
        st = job.input.stat()
        stamp = [st.st_size, st.st_mtime_ns]
    except OSError:
        stamp = None
    return sha256_json([spec["argv"], spec["workspace"], stamp, plugin_version, __version__])


def _up_to_date(state: BatchState, model: str, uid: str, spec: dict[str, Any]) -> bool:
    """Done before with the same command and input, and its workspace's steps untouched since."""
    from tfk.batch.job import done_stamps

    rec = state.read(model, uid) or {}
    if rec.get("state") != "done" or rec.get("spec") != spec["key"]:
        return False
    stamps = done_stamps(spec["workspace"])
    return bool(stamps) and stamps == rec.get("stamps")


def _forward_env() -> dict[str, str]:
    from tfk.paths import tfk_home

    env = {k: v for k, v in os.environ.items() if k.startswith("TFK_") and k not in ("TFK_PROGRESS",)}
    env["TFK_HOME"] = str(tfk_home())
    return env


def used_by_preprocess(art: Any, model: str) -> bool:
    """Whether ``art`` serves ``model``'s preprocess stage, from its ``used_by`` tags (``lawdnet:train``, ...).

    An artifact tagged with other stages only (training losses, inference checkpoints) is not; an untagged
    one of the model's own namespace, or one used by the model as a whole, is.
    """
    tags = [u for u in art.used_by if u == model or u.startswith(model + ":")]
    if not tags:
        return art.namespace == model
    return any(t == model or t[len(model) + 1 :].startswith("preprocess") for t in tags)


def _pull_weights(model: str) -> None:
    """The public, non-optional artifacts preprocess needs, once, before any job starts (errors fail fast)."""
    from tfk.weights import catalog, store

    arts = [a for a in catalog.for_model(model) if not a.optional and not a.manual and used_by_preprocess(a, model)]
    if arts:
        store.pull(arts, progress=True)


def _make_executor(cfg: BatchConfig) -> Any:
    from tfk.batch.executors import LocalExecutor, RayExecutor

    if cfg.executor == "local":
        n = cfg.max_parallel or max(1, int((os.cpu_count() or 1) // cfg.cpus_per_job))
        return LocalExecutor(n, int(cfg.gpus_per_job))
    if cfg.executor == "ray":
        address = cfg.ray_address or os.environ.get("RAY_ADDRESS") or None
        return RayExecutor(address, cfg.max_parallel, cfg.cpus_per_job, cfg.gpus_per_job)
    raise errors.UsageError(f"unknown --executor {cfg.executor!r}: use local or ray")


def _lock(state: BatchState, cfg: BatchConfig) -> Any:
    from filelock import FileLock, Timeout

    part = f".{cfg.shard[0]}of{cfg.shard[1]}" if cfg.shard else ""
    path = state.root / cfg.model / f".lock{part}"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise errors.LockTimeout(
            f"another tfk batch is running {cfg.model} on {cfg.jobs_path.name} (lock {path})",
            hint=f"tfk batch status {cfg.jobs_path}",
        ) from None
    return lock


def _paths(spec: dict[str, Any]) -> dict[str, str]:
    return {"log": spec["log"], "workspace": spec["workspace"]}


class _Stop:
    def __init__(self) -> None:
        self.signal: int | None = None


def run_batch(cfg: BatchConfig, reporter: BatchReporter | None = None) -> int:
    """Run the batch; returns the exit code (0: every job done, else the first failed job's code)."""
    from tfk.registry import load_registry
    from tfk.workspace import Workspace

    jobs = load_jobs(cfg.jobs_path)
    lp = load_registry().get(cfg.model)
    if "preprocess" not in lp.stages:
        raise errors.StageNotImplemented(f"{cfg.model} does not implement preprocess")
    declared = {o.dest: o for o in lp.info.options_for("preprocess")}
    chosen = select_shard(jobs, cfg.shard)
    state = BatchState(cfg.batch_dir or default_batch_dir(cfg.jobs_path))
    env = _forward_env()
    specs: dict[str, dict[str, Any]] = {}
    for job in chosen:
        argv = ["-m", "tfk.cli.main", "--progress", "plain", "preprocess", cfg.model, str(job.input)]
        argv += ["--uid", job.uid, *option_args(job, declared), *(["--force"] if cfg.force else []), *cfg.extra_args]
        if "device" not in job.options and "--device" not in cfg.extra_args:
            argv += ["--device", "cuda" if cfg.gpus_per_job else "cpu"]  # the device follows the job's resources
        specs[job.uid] = {
            "argv": argv,
            "env": env,
            "log": str(state.log_path(cfg.model, job.uid)),
            "workspace": str(Workspace.for_subject(cfg.model, job.uid).root),
            "cpus": cfg.cpus_per_job,
        }
        specs[job.uid]["key"] = spec_key(specs[job.uid], job, lp.version)
    lock = _lock(state, cfg)
    try:
        if cfg.pull_weights:
            _pull_weights(cfg.model)
        executor = _make_executor(cfg)
        reporter = reporter or BatchReporter(len(chosen), "none")
        try:
            return _schedule(cfg, chosen, specs, state, executor, reporter)
        finally:
            executor.kill()  # nothing is left running on the normal paths; after a bug, no orphan jobs
            executor.close()
            reporter.close()
            state.write_summary(cfg.jobs_path, jobs, sorted({*state.models(), cfg.model}))
    finally:
        lock.release()


def _schedule(
    cfg: BatchConfig,
    jobs: list[Job],
    specs: dict[str, dict[str, Any]],
    state: BatchState,
    executor: Any,
    reporter: BatchReporter,
) -> int:
    by_uid = {j.uid: j for j in jobs}
    queue: deque[str] = deque(j.uid for j in jobs)
    not_before: dict[str, float] = {}
    attempts: dict[str, int] = dict.fromkeys(by_uid, 0)
    elapsed: dict[str, float] = dict.fromkeys(by_uid, 0.0)
    running: set[str] = set()
    stop = _Stop()
    failed: dict[str, int] = {}

    def on_term(signum: int, _frame: Any) -> None:
        stop.signal = signum
        executor.stop(signal.SIGINT)

    main = threading.current_thread() is threading.main_thread()  # signal handlers live on the main thread
    old = signal.signal(signal.SIGTERM, on_term) if main else None
    for uid in list(queue):
        if not cfg.force and _up_to_date(state, cfg.model, uid, specs[uid]):
            queue.remove(uid)
            state.write(cfg.model, uid, cached=True, reason="")
            reporter.finished(uid, "done", {"cached": True, "duration": 0.0})
            continue
        state.write(cfg.model, uid, state="pending", index=by_uid[uid].index, input=str(by_uid[uid].input))

    def finish(uid: str, res: dict[str, Any]) -> None:
        running.discard(uid)
        code, n = int(res["exit_code"]), attempts[uid]
        elapsed[uid] += float(res.get("duration") or 0.0)
        common = {"exit_code": code, "duration": res.get("duration"), "total_duration": round(elapsed[uid], 3)}
        common.update(attempts=n, reason=res.get("reason", ""), cached=bool(res.get("cached")))
        common.update(runner_pid=res.get("runner_pid"))
        if code == 0:
            state.write(cfg.model, uid, state="done", spec=specs[uid]["key"], stamps=res.get("stamps"), **common)
            reporter.finished(uid, "done", res)
        elif stop.signal is None and cfg.policy.should_retry(code, n):
            wait = cfg.policy.backoff(n)
            not_before[uid] = time.monotonic() + wait
            queue.append(uid)
            state.write(cfg.model, uid, state="pending", **common)
            reporter.retrying(uid, describe(code), wait)
        elif stop.signal is not None and (by_signal(code) or code == errors.ExitCode.INTERRUPTED):
            state.write(cfg.model, uid, state="pending", **{**common, "reason": "interrupted"})
            reporter.finished(uid, "interrupted", res)
        else:
            failed[uid] = code
            state.write(cfg.model, uid, state="failed", **common)
            reporter.finished(uid, "failed", res)

    def drain(deadline: float) -> None:
        while running and time.monotonic() < deadline:
            for uid, res in executor.wait(0.2):
                finish(uid, res)

    try:
        try:
            while (queue or running) and stop.signal is None:
                now = time.monotonic()
                for _ in range(len(queue)):
                    if len(running) >= executor.capacity:
                        break
                    uid = queue.popleft()
                    if not_before.get(uid, 0.0) > now:
                        queue.append(uid)
                        continue
                    attempts[uid] += 1
                    running.add(uid)
                    spec = specs[uid]
                    state.write(cfg.model, uid, state="running", attempts=attempts[uid], **_paths(spec))
                    executor.submit(uid, specs[uid])
                    reporter.started(uid)
                for uid, res in executor.wait(0.2):
                    finish(uid, res)
        except KeyboardInterrupt:
            stop.signal = signal.SIGINT
            drain(time.monotonic() + 2.0)  # children in our process group got the Ctrl-C themselves
            executor.stop(signal.SIGINT)
        if running:
            with contextlib.suppress(KeyboardInterrupt):
                drain(time.monotonic() + 60.0)
            if running:
                executor.kill()
                drain(time.monotonic() + 10.0)
    finally:
        if main:
            signal.signal(signal.SIGTERM, old)
    if stop.signal is not None:
        left = len(queue) + len(running)
        reporter.note(f"batch interrupted; run the same command again to finish the {left} job(s) left")
        return 128 + int(stop.signal)
    for job in jobs:
        if job.uid in failed:
            code = failed[job.uid]
            return 128 - code if code < 0 else code
    return 0
