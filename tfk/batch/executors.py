"""Executors run :func:`tfk.batch.job.run_job` for many jobs at once.

- :class:`LocalExecutor`: a bounded pool on this machine (one thread per running job, each waiting on its
  ``tfk preprocess`` child process); ``--gpus-per-job G`` hands each job its own ``CUDA_VISIBLE_DEVICES``.
- :class:`RayExecutor`: the same function as Ray tasks with ``num_cpus``/``num_gpus`` resources, on the
  cluster at ``--ray-address`` / ``RAY_ADDRESS`` (``auto`` for the local node's cluster), or on a Ray
  instance started here when neither is given. Ray is imported only by this executor (extra ``tfk[ray]``).

Both have the same small interface: ``capacity``, ``submit(key, spec)``, ``wait(timeout)`` -> finished
``(key, result)`` pairs, ``stop(sig)`` (pass a signal on to every running job) and ``close()``.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import threading
from typing import Any

from tfk import errors
from tfk.batch.job import run_job


def _crash_result(exc: BaseException, code: int = 1) -> dict[str, Any]:
    msg = " ".join(str(exc).split())[:300] or type(exc).__name__
    return {"exit_code": code, "duration": 0.0, "reason": f"{type(exc).__name__}: {msg}", "cached": False}


class LocalExecutor:
    """Run up to ``max_parallel`` jobs at once as child processes of this one."""

    name = "local"

    def __init__(self, max_parallel: int, gpus_per_job: int = 0):
        self.capacity = max(1, int(max_parallel))
        self._done: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.RLock()  # also taken by the SIGTERM handler on the main thread
        self._gpu_slots: list[str] = []
        self._gpu_of: dict[str, str] = {}
        self.gpus_per_job = int(gpus_per_job)
        if self.gpus_per_job > 0:
            n = _local_gpu_count()
            if n < self.gpus_per_job:
                raise errors.DeviceUnavailable(
                    f"--gpus-per-job {gpus_per_job}: this machine has {n} CUDA GPU(s)", hint="use --gpus-per-job 0"
                )
            per = self.gpus_per_job
            self._gpu_slots = [",".join(str(g) for g in range(i, i + per)) for i in range(0, n - per + 1, per)]
            self.capacity = min(self.capacity, len(self._gpu_slots))

    def submit(self, key: str, spec: dict[str, Any]) -> None:
        spec = dict(spec)
        if self._gpu_slots:
            with self._lock:
                slot = self._gpu_slots.pop(0)
                self._gpu_of[key] = slot
            spec["env"] = {**(spec.get("env") or {}), "CUDA_VISIBLE_DEVICES": slot}

        def started(proc: subprocess.Popen) -> None:
            with self._lock:
                self._procs[key] = proc

        def work() -> None:
            try:
                result = run_job(spec, on_start=started)
            except BaseException as exc:
                result = _crash_result(exc)
            with self._lock:
                self._procs.pop(key, None)
                slot = self._gpu_of.pop(key, None)
                if slot is not None:
                    self._gpu_slots.append(slot)
            self._done.put((key, result))

        threading.Thread(target=work, name=f"tfk-batch-{key}", daemon=True).start()

    def wait(self, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        out = []
        try:
            out.append(self._done.get(timeout=timeout))
            while True:
                out.append(self._done.get_nowait())
        except queue.Empty:
            pass
        return out

    def stop(self, sig: int = signal.SIGTERM) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    def kill(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            if proc.poll() is None:
                proc.kill()

    def close(self) -> None:
        pass


def _local_gpu_count() -> int:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise errors.Unavailable(
            "--executor ray needs Ray, which is not installed", hint='pip install "tfk[ray]"'
        ) from None
    return ray


class RayExecutor:
    """Run jobs as Ray tasks; ``address`` None -> ``RAY_ADDRESS`` or a Ray instance started here."""

    name = "ray"

    def __init__(self, address: str | None, max_parallel: int | None, cpus_per_job: float = 1, gpus_per_job: float = 0):
        ray = import_ray()
        self.ray = ray
        self._owned = False
        if not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except ConnectionError as exc:
                where = address or "RAY_ADDRESS"
                raise errors.Unavailable(
                    f"cannot connect to the Ray cluster at {where}: {exc}", hint="ray status"
                ) from None
            self._owned = True
        self._task = ray.remote(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=0)(run_job)
        total = ray.cluster_resources()
        if gpus_per_job > total.get("GPU", 0):
            raise errors.DeviceUnavailable(
                f"--gpus-per-job {gpus_per_job}: the Ray cluster has {total.get('GPU', 0):g} GPU(s)",
                hint="use --gpus-per-job 0",
            )
        fit = int(total.get("CPU", 1) // max(cpus_per_job, 1e-3)) or 1
        if gpus_per_job:
            fit = min(fit, int(total.get("GPU", 0) // gpus_per_job))
        self.capacity = max(1, min(fit, max_parallel) if max_parallel else fit)
        self._refs: dict[Any, str] = {}

    def submit(self, key: str, spec: dict[str, Any]) -> None:
        self._refs[self._task.remote(spec)] = key

    def wait(self, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        if not self._refs:
            return []
        ready, _ = self.ray.wait(list(self._refs), num_returns=len(self._refs), timeout=timeout)
        out = []
        for ref in ready:
            key = self._refs.pop(ref)
            try:
                out.append((key, self.ray.get(ref)))
            except self.ray.exceptions.TaskCancelledError as exc:
                out.append((key, _crash_result(exc, code=-int(signal.SIGINT))))
            except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as exc:
                out.append((key, _crash_result(exc, code=-int(signal.SIGKILL))))  # a lost worker: retried
            except self.ray.exceptions.RayError as exc:
                out.append((key, _crash_result(exc)))
        return out

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for ref in list(self._refs):
            self.ray.cancel(ref, force=False)

    def kill(self) -> None:
        for ref in list(self._refs):
            self.ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owned:
            self.ray.shutdown()
