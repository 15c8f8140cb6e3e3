"""Where a batch keeps its bookkeeping: one record per job, the logs and the ``batch.json`` summary.

``TFK_HOME/batches/<jobs-file-name>-<hash of its absolute path>/`` (or ``--batch-dir``) holds
``<model>/<uid>.json`` (written atomically by the one process that runs the job, so shards on different
machines never write the same file), ``<model>/logs/<uid>.log`` (every try's output) and ``batch.json``,
rebuilt from the records when a batch ends. Records carry the host and pid of the batch process, so a
record left ``running`` by a killed batch on this host reads as interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from tfk.fsutil import atomic_write_json

STATES = ("done", "failed", "running", "pending")


def default_batch_dir(jobs_path: str | Path) -> Path:
    from tfk.paths import tfk_home

    p = Path(jobs_path).expanduser().resolve()
    digest = hashlib.sha1(str(p).encode()).hexdigest()[:10]
    return tfk_home() / "batches" / f"{p.name}-{digest}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BatchState:
    """The records of one jobs file's batches (every model run on it)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def record_path(self, model: str, uid: str) -> Path:
        return self.root / model / f"{uid}.json"

    def log_path(self, model: str, uid: str) -> Path:
        return self.root / model / "logs" / f"{uid}.log"

    def read(self, model: str, uid: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.record_path(model, uid).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write(self, model: str, uid: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the job's record (stamped with this host/pid and the time)."""
        rec = self.read(model, uid) or {}
        rec.update(fields, model=model, uid=uid, host=socket.gethostname(), pid=os.getpid())
        rec["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write_json(self.record_path(model, uid), rec)
        return rec

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir() if d.is_dir() and any(d.glob("*.json")))

    @staticmethod
    def effective(rec: dict[str, Any] | None) -> dict[str, Any]:
        """A record as status shows it: ``running`` on this host by a dead process -> pending (interrupted)."""
        if rec is None:
            return {"state": "pending", "reason": "not run yet"}
        rec = dict(rec)
        if rec.get("state") == "running" and rec.get("host") == socket.gethostname() and not _alive(int(rec["pid"])):
            rec.update(state="pending", reason="interrupted; run the batch again to finish it")
        return rec

    def rows(self, model: str, jobs: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for job in jobs:
            rec = self.effective(self.read(model, job.uid))
            rows.append(
                {
                    "model": model,
                    "uid": job.uid,
                    "input": str(job.input),
                    "state": rec.get("state", "pending"),
                    "exit_code": rec.get("exit_code"),
                    "reason": rec.get("reason", ""),
                    "attempts": rec.get("attempts", 0),
                    "duration": rec.get("duration"),
                    "cached": rec.get("cached", False),
                    "workspace": rec.get("workspace"),
                    "log": rec.get("log"),
                    "host": rec.get("host"),
                }
            )
        return rows

    def write_summary(self, jobs_path: Path, jobs: list[Any], models: list[str]) -> Path:
        """``batch.json``: every job of every model run on this jobs file, with counts."""
        rows = [r for m in models for r in self.rows(m, jobs)]
        counts = {s: sum(r["state"] == s for r in rows) for s in STATES}
        doc = {
            "jobs_file": str(Path(jobs_path).resolve()),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": counts,
            "jobs": rows,
        }
        return atomic_write_json(self.root / "batch.json", doc)
