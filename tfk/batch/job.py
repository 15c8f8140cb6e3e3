"""The job function both executors run: one ``tfk preprocess`` in a child process.

Standard library only, so a Ray worker can run it: it runs ``<this interpreter> -m tfk.cli.main ...``
with the job's arguments, appends the child's output to the job's log, and reports the exit code, the
duration, the last ``error:`` line and whether the step cache already had everything (``cached``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: thread pools of numerical libraries follow the job's CPU share instead of the machine's core count
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
GRACE_S = 30.0


def done_stamps(workspace: str | Path) -> dict[str, str]:
    """step name -> the id of its last completed run (from ``steps/<name>/.done.json``)."""
    out: dict[str, str] = {}
    steps = Path(workspace) / "steps"
    if not steps.is_dir():
        return out
    for done in steps.glob("*/.done.json"):
        try:
            doc = json.loads(done.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        out[done.parent.name] = str(doc.get("run") or doc.get("finished") or doc.get("fingerprint"))
    return out


def _last_error(log: Path) -> str:
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 16384))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(tail):
        if line.startswith("error: "):
            return line[len("error: ") :].strip()
    for line in reversed(tail):
        if line.strip() and not line.startswith("==="):
            return line.strip()[:300]
    return ""


def stop_child(proc: subprocess.Popen, sig: int = signal.SIGINT, grace: float = GRACE_S) -> None:
    """Ask the child to stop with ``sig`` (it checkpoints and exits), then kill it after ``grace`` s."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


def run_job(spec: dict[str, Any], on_start: Callable[[subprocess.Popen], None] | None = None) -> dict[str, Any]:
    """Run one job; ``spec`` holds ``argv`` (after the interpreter), ``env``, ``log``, ``workspace``, ``cpus``.

    Returns ``exit_code`` (negative: killed by that signal), ``duration``, ``reason``, ``cached``, ``host``.
    An interrupt of this function (Ctrl-C, ``ray.cancel``) is passed on to the child before re-raising.
    """
    t0 = time.monotonic()
    log = Path(spec["log"])
    log.parent.mkdir(parents=True, exist_ok=True)
    before = done_stamps(spec["workspace"])
    env = os.environ.copy()
    env.update({k: str(v) for k, v in (spec.get("env") or {}).items()})
    cpus = max(1, int(spec.get("cpus") or 1))
    for var in THREAD_VARS:
        env.setdefault(var, str(cpus))
    cmd = [sys.executable, *spec["argv"]]
    with log.open("ab") as out:
        out.write(f"=== {time.strftime('%Y-%m-%dT%H:%M:%S')} {socket.gethostname()}: {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        if on_start is not None:
            on_start(proc)
        try:
            code = proc.wait()
        except BaseException:
            stop_child(proc)
            raise
    after = done_stamps(spec["workspace"])
    return {
        "exit_code": code,
        "duration": round(time.monotonic() - t0, 3),
        "reason": _last_error(log) if code else "",
        "cached": bool(code == 0 and before and before == after),
        "stamps": after,
        "host": socket.gethostname(),
        "runner_pid": os.getpid(),  # the process that ran this function (a Ray worker's, or the batch's own)
    }
