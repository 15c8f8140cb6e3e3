"""The store's on-disk layout, its index and its locks (:class:`Store`).

Layout under :func:`tfk.weights.config.weights_root` (``$TFK_HOME/weights``)::

    blobs/sha256/<hex>                  the content, read-only, shared by identical artifacts
    by-id/<ns>/<name>/<filename>        a hard link to the blob (a copy where links fail)
    derived/<ns>/<name>/<hex16>/...     files built by the artifact's ``derive`` hook after an import
    index.json                          provenance + verified stamps, replaced atomically under a lock
    locks/                              one lock per artifact (best effort: files are published atomically)
    tmp/                                in-flight downloads and imports (unique names, never visible)

A file becomes visible under ``by-id`` only after its size and sha256 matched (or, for an unpinned
artifact, after the first verified download or import recorded its hash). A ``verified`` stamp
(size, mtime_ns, sha256) lets :func:`require` skip re-hashing; :func:`verify` always re-hashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfk import fsutil
from tfk.errors import LockTimeout
from tfk.weights import config
from tfk.weights.artifact import Artifact

if TYPE_CHECKING:
    from tfk.progress import Reporter

__all__ = ["STATUSES", "Store"]

log = logging.getLogger("tfk.weights")

STATUSES = ("verified", "present-unverified", "missing", "corrupt", "manual-required")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _host() -> str:
    import socket  # gethostname() opens no socket

    return socket.gethostname().replace("~", "-").replace("@", "-") or "localhost"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _load_ref(ref: str) -> Callable[..., Any]:
    mod, _, func = ref.partition(":")
    if not mod or not func:
        raise ValueError(f"bad reference {ref!r}: expected 'module:function'")
    return getattr(importlib.import_module(mod), func)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _fix_command(art: Artifact) -> str:
    return f"tfk weights import {art.id} FILE" if art.manual else f"tfk weights pull {art.id}"


class Store:
    """The on-disk store at ``root`` (default: resolved from the environment now)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else config.weights_root()
        self.blobs = self.root / "blobs" / "sha256"
        self.by_id = self.root / "by-id"
        self.derived_root = self.root / "derived"
        self.locks = self.root / "locks"
        self.tmp = self.root / "tmp"
        self.index_path = self.root / "index.json"

    # -- layout ---------------------------------------------------------------------------------
    def blob_path(self, hexdigest: str) -> Path:
        return self.blobs / hexdigest

    def view_path(self, art: Artifact) -> Path:
        return self.by_id.joinpath(*art.id.split("/"), art.filename)

    def derived_dir(self, art: Artifact) -> Path:
        return self.derived_root.joinpath(*art.id.split("/"))

    def tmp_file(self, filename: str) -> Path:
        """A unique in-flight name that keeps the artifact's suffix (validators may dispatch on it).

        The name carries ``pid@host`` so that :meth:`sweep_tmp` can remove what killed processes left.
        """
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{os.getpid()}@{_host()}~{uuid.uuid4().hex[:12]}.part-{filename}"

    def sweep_tmp(self, max_age: float = 7 * 86400) -> list[Path]:
        """Delete in-flight files of dead processes on this host (or older than ``max_age`` seconds)."""
        removed: list[Path] = []
        if not self.tmp.is_dir():
            return removed
        host, now = _host(), time.time()
        for p in self.tmp.iterdir():
            owner = p.name.split("~", 1)[0]
            pid, _, phost = owner.partition("@")
            try:
                stale = now - p.lstat().st_mtime > max_age
                if not stale and phost == host and pid.isdigit():
                    stale = not _pid_alive(int(pid))
                if stale:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed.append(p)
            except OSError:
                continue
        return removed

    # -- locks ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, name: str, label: str, reporter: Reporter | None = None) -> Iterator[None]:
        import filelock

        self.locks.mkdir(parents=True, exist_ok=True)
        path = self.locks / f"{name}.lock"
        lock = filelock.FileLock(str(path))
        timeout = config.lock_timeout()
        deadline = time.monotonic() + timeout
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            msg = f"waiting for another tfk process to finish {label} (lock {path})"
            log.warning(msg)
            if reporter is not None:
                reporter.note(msg)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(
                        f"timed out after {timeout:.0f} s waiting for the lock on {label}",
                        hint=f"another tfk process holds {path}; wait for it, or raise TFK_LOCK_TIMEOUT",
                    ) from None
                try:
                    lock.acquire(timeout=min(10.0, remaining))
                    break
                except filelock.Timeout:
                    log.warning("still %s", msg)
        try:
            yield
        finally:
            lock.release()

    def _lock_name(self, art: Artifact) -> str:
        return hashlib.sha256(art.id.encode()).hexdigest()[:24]

    def lock_file(self, art: Artifact) -> Path:
        """The lock file guarding downloads/imports of ``art``."""
        return self.locks / f"{self._lock_name(art)}.lock"

    def artifact_lock(self, art: Artifact, reporter: Reporter | None = None) -> contextlib.AbstractContextManager:
        return self._locked(self._lock_name(art), art.id, reporter)

    # -- index ----------------------------------------------------------------------------------
    def read_index(self) -> dict[str, dict]:
        """The index entries; an unreadable index reads as empty (see :meth:`index_problem`).

        Without entries nothing counts as verified from a stamp: :meth:`rehash` checks every file
        against its declaration (sha256, size, validator) and records it again.
        """
        try:
            data = json.loads(self.index_path.read_text())
            if not isinstance(data, dict) or not isinstance(data.get("artifacts", {}), dict):
                raise ValueError("not a tfk weights index")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("unreadable %s (%s): every artifact will be re-checked", self.index_path, exc)
            return {}
        return dict(data.get("artifacts", {}))

    def index_problem(self) -> str | None:
        """Why ``index.json`` cannot be read (None when it is fine or absent)."""
        try:
            data = json.loads(self.index_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if not isinstance(data, dict) or not isinstance(data.get("artifacts", {}), dict):
            return "not a tfk weights index"
        return None

    @contextlib.contextmanager
    def edit_index(self) -> Iterator[dict[str, dict]]:
        """Read-modify-write the index under its lock; written atomically when the block succeeds."""
        with self._locked("index", "the weights index"):
            entries = self.read_index()
            problem = self.index_problem() if not entries and self.index_path.exists() else None
            yield entries
            if problem:  # keep the unreadable file for inspection instead of overwriting it
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.index_path, self.index_path.with_name(f"index.json.unreadable-{_now()}"))
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.index_path.with_name(f".index.{uuid.uuid4().hex[:8]}.tmp")
            with open(tmp, "w") as f:
                json.dump({"version": 1, "artifacts": entries}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.index_path)

    def entry(self, artifact_id: str) -> dict | None:
        return self.read_index().get(artifact_id)

    # -- status ---------------------------------------------------------------------------------
    def expected_sha(self, art: Artifact, entry: dict | None) -> str | None:
        """The declared sha256, or the one recorded by the first verified download/import."""
        if art.sha256:
            return art.sha256
        return (entry or {}).get("sha256")

    def status(self, art: Artifact, entry: dict | None = None, *, index: dict | None = None) -> str:
        """Cheap status (no hashing): verified | present-unverified | missing | corrupt | manual-required."""
        if entry is None:
            entry = (self.read_index() if index is None else index).get(art.id)
        view = self.view_path(art)
        try:
            st = view.stat()
        except FileNotFoundError:
            return "manual-required" if art.manual else "missing"
        if entry and entry.get("corrupt"):
            return "corrupt"
        if art.size is not None and st.st_size != art.size:
            return "corrupt"
        stamp = (entry or {}).get("stamp") or {}
        exp = self.expected_sha(art, entry)
        if (
            exp
            and stamp.get("sha256") == exp
            and stamp.get("size") == st.st_size
            and stamp.get("mtime_ns") == st.st_mtime_ns
        ):
            return "verified"
        return "present-unverified"

    # -- publishing -----------------------------------------------------------------------------
    def _link_view(self, blob: Path, view: Path) -> None:
        view.parent.mkdir(parents=True, exist_ok=True)
        tmp = view.with_name(f".{view.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            os.link(blob, tmp)
        except OSError:
            shutil.copyfile(blob, tmp)
            os.chmod(tmp, 0o444)
        os.replace(tmp, view)
        _fsync_dir(view.parent)

    def _stamp(self, view: Path, sha: str) -> dict:
        st = view.stat()
        return {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "time": _now()}

    def publish(self, art: Artifact, part: Path, sha: str, size: int, *, source: str, pin: str) -> Path:
        """Move a verified temporary file into the blob store, link the view, record provenance."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        blob = self.blob_path(sha)
        os.chmod(part, 0o444)
        os.replace(part, blob)
        _fsync_dir(self.blobs)
        view = self.view_path(art)
        self._link_view(blob, view)
        with self.edit_index() as idx:
            old = idx.get(art.id) or {}
            idx[art.id] = {
                "sha256": sha,
                "size": size,
                "filename": art.filename,
                "source": source,
                "time": _now(),
                "pin": pin,
                "pinned": pin in ("manifest", "import"),
                "stamp": self._stamp(view, sha),
                **({"derived": old["derived"]} if old.get("derived") and old.get("sha256") == sha else {}),
            }
        self._drop_unreferenced(old.get("sha256"), keep=sha)
        return view

    def _drop_unreferenced(self, sha: str | None, keep: str | None = None) -> None:
        if not sha or sha == keep:
            return
        if any(e.get("sha256") == sha for e in self.read_index().values()):
            return
        with contextlib.suppress(FileNotFoundError):
            self.blob_path(sha).unlink()

    def mark(self, art: Artifact, *, corrupt: bool, sha: str | None = None) -> None:
        """Record the outcome of a full re-hash (a fresh stamp, or the corrupt flag)."""
        view = self.view_path(art)
        with self.edit_index() as idx:
            entry = idx.get(art.id)
            if entry is None:
                return
            if corrupt:
                entry["corrupt"] = True
                entry.pop("stamp", None)
            else:
                entry.pop("corrupt", None)
                entry["stamp"] = self._stamp(view, sha or entry["sha256"])

    def rehash(self, art: Artifact) -> str:
        """Hash the present file and compare: returns verified | corrupt | missing | manual-required.

        The file is held to the declared sha256, else to the recorded one. With no hash at all (never
        recorded, or the index was lost) its declared size and validator decide, and the outcome is
        recorded again. Only an artifact with none of these stays ``present-unverified``.
        """
        view = self.view_path(art)
        if not view.exists():
            return "manual-required" if art.manual else "missing"
        entry = self.entry(art.id)
        exp = self.expected_sha(art, entry)
        sha, size = fsutil.sha256_and_size(view)
        if exp is not None:
            ok = sha == exp and (art.size is None or size == art.size)
        elif art.size is not None or art.validator:
            ok = (art.size is None or size == art.size) and self._valid(art, view)
        else:
            return "present-unverified"
        if entry is None:
            self._record_rechecked(art, view, sha, size, ok)
        else:
            self.mark(art, corrupt=not ok, sha=sha)
        return "verified" if ok else "corrupt"

    def _valid(self, art: Artifact, path: Path) -> bool:
        from tfk.errors import InvalidArtifact

        if not art.validator:
            return True
        try:
            _load_ref(art.validator)(path)
        except InvalidArtifact:
            return False
        except Exception:  # noqa: BLE001 - a validator that crashes on a file: the file is invalid
            return False
        return True

    def _record_rechecked(self, art: Artifact, view: Path, sha: str, size: int, ok: bool) -> None:
        """An entry for a present file the index does not know (lost index): its hash, as just checked."""
        with self.edit_index() as idx:
            entry = {
                "sha256": sha if ok else None,  # a wrong file's hash must never become the expected one
                "seen_sha256": sha,
                "size": size,
                "filename": art.filename,
                "source": "recheck",
                "time": _now(),
                "pin": "manifest" if art.sha256 else "recheck",
                "pinned": bool(art.sha256),
            }
            if ok:
                entry["stamp"] = self._stamp(view, sha)
            else:
                entry["corrupt"] = True
            idx[art.id] = entry
