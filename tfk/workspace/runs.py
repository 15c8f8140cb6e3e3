"""Run directories: one per train/infer/evaluate invocation, with a JSON manifest and a log."""

from __future__ import annotations

import logging
import os
import platform
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from tfk.fsutil import atomic_write_json, sha256_file

SCHEMA_VERSION = 1


class Run:
    """``TFK_HOME/runs/<model>/<uid or _>/<YYYYmmdd-HHMMSS>-<id>/`` with ``manifest.json`` and ``log.txt``.

    The manifest is rewritten atomically on every change, so it is always valid JSON, and records
    versions, argv, resolved config, input and weight hashes, device, timings and exit status.
    """

    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.dir = directory
        self.manifest = manifest
        self._t0 = time.monotonic()
        self._handler: logging.Handler | None = None

    @classmethod
    def create(
        cls,
        model: str,
        verb: str,
        uid: str | None = None,
        root: str | Path | None = None,
        argv: list[str] | None = None,
        plugin_version: str | None = None,
        device: str | None = None,
    ) -> Run:
        from tfk import __version__
        from tfk.paths import runs_root

        base = Path(root) if root else runs_root() / model / (uid or "_")
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        directory = base / run_id
        directory.mkdir(parents=True)
        manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "model": model,
            "verb": verb,
            "uid": uid,
            "argv": list(argv if argv is not None else sys.argv),
            "cwd": os.getcwd(),
            "versions": {"tfk": __version__, "plugin": plugin_version, "python": platform.python_version()},
            "host": {"platform": platform.platform(), "machine": platform.machine()},
            "device": device,
            "config": {},
            "inputs": {},
            "artifacts": {},
            "outputs": {},
            "timings": {},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "finished": None,
            "status": "running",
            "exit_code": None,
            "error": None,
        }
        run = cls(directory, manifest)
        run._attach_log()
        run.save()
        return run

    @property
    def log_path(self) -> Path:
        return self.dir / "log.txt"

    def _attach_log(self) -> None:
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("tfk")
        logger.setLevel(min(logger.level or logging.INFO, logging.INFO))
        logger.addHandler(handler)
        self._handler = handler

    def save(self) -> None:
        atomic_write_json(self.dir / "manifest.json", self.manifest)

    def set_config(self, config: dict[str, Any]) -> None:
        self.manifest["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in config.items()}
        self.save()

    def record_input(self, path: str | os.PathLike[str]) -> str:
        p = Path(path)
        digest = sha256_file(p) if p.is_file() else "not-a-file"
        self.manifest["inputs"][str(p)] = digest
        self.save()
        return digest

    def record_artifact(self, artifact_id: str, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        digest = None
        try:  # the store knows the hash; never re-hash a multi-GB file just for the manifest
            from tfk.weights.store import Store

            digest = (Store().entry(artifact_id) or {}).get("sha256")
        except Exception:  # noqa: BLE001 - the manifest must never break a run
            digest = None
        if digest is None and p.is_file() and p.stat().st_size < (256 << 20):
            digest = sha256_file(p)
        self.manifest["artifacts"][artifact_id] = {"path": str(p), "sha256": digest}
        self.save()

    def record_output(self, name: str, path: str | os.PathLike[str]) -> None:
        self.manifest["outputs"][name] = str(path)
        self.save()

    def timing(self, name: str, seconds: float) -> None:
        self.manifest["timings"][name] = round(seconds, 3)
        self.save()

    def finish(self, exit_code: int, error: BaseException | None = None) -> None:
        self.manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.manifest["timings"]["total"] = round(time.monotonic() - self._t0, 3)
        self.manifest["exit_code"] = int(exit_code)
        self.manifest["status"] = "ok" if exit_code == 0 else "failed"
        if error is not None:
            self.manifest["error"] = {"type": type(error).__name__, "message": " ".join(str(error).split())}
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            self.manifest["versions"]["torch"] = getattr(torch, "__version__", None)
            cuda = getattr(torch, "cuda", None)
            if cuda is not None and cuda.is_available():
                self.manifest["host"]["gpu"] = cuda.get_device_name(0)
        self.save()
        if self._handler is not None:
            logging.getLogger("tfk").removeHandler(self._handler)
            self._handler.close()
            self._handler = None
