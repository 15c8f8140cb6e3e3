"""The weights store: content-addressed blobs, readable per-artifact views and a provenance index.

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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tfk.errors import (
    ChecksumMismatch,
    DiskFull,
    InputNotFound,
    InvalidArtifact,
    LockTimeout,
    MissingWeights,
    NetworkError,
    OfflineError,
    TfkError,
    UsageError,
)
from tfk.weights import catalog, config
from tfk.weights.artifact import Artifact
from tfk.weights.config import tfk_home  # re-exported: tfk.weights.store.tfk_home()
from tfk.weights.progress import NullReporter, Reporter, human_size, make_reporter

__all__ = [
    "Store",
    "derived",
    "find",
    "import_file",
    "pull",
    "remove",
    "require",
    "seed_library_caches",
    "status",
    "tfk_home",
    "verify",
]

log = logging.getLogger("tfk.weights")

STATUSES = ("verified", "present-unverified", "missing", "corrupt", "manual-required")
DISK_MARGIN = 1.1
DISK_EXTRA = 16 << 20
_HASH_CHUNK = 1 << 20


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: Path) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


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
        try:
            data = json.loads(self.index_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.index_path, exc)
            return {}
        return dict(data.get("artifacts", {}))

    @contextlib.contextmanager
    def edit_index(self) -> Iterator[dict[str, dict]]:
        """Read-modify-write the index under its lock; written atomically when the block succeeds."""
        with self._locked("index", "the weights index"):
            entries = self.read_index()
            yield entries
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

        An unpinned artifact whose hash was never recorded stays ``present-unverified``.
        """
        view = self.view_path(art)
        if not view.exists():
            return "manual-required" if art.manual else "missing"
        entry = self.entry(art.id)
        exp = self.expected_sha(art, entry)
        sha, size = sha256_file(view)
        if exp is None or entry is None:
            return "present-unverified"
        ok = sha == exp and (art.size is None or size == art.size)
        self.mark(art, corrupt=not ok, sha=sha)
        return "verified" if ok else "corrupt"


# ------------------------------------------------------------------------------------------------
# acquisition (download / mirror / archive extraction)


def _mirror_urls(art: Artifact, bases: list[str], expected: str | None) -> list[str]:
    urls: list[str] = []
    for base in bases:
        if expected:
            urls.append(f"{base}/sha256/{expected}/{art.filename}")
        urls.append(f"{base}/{art.id}/{art.filename}")
    return urls


def _candidates(art: Artifact, bases: list[str], expected: str | None) -> list[tuple[str, bool]]:
    """Ordered (url, is_mirror) pairs: mirrors first, then the upstream sources (not for manual ones)."""
    out = [(u, True) for u in _mirror_urls(art, bases, expected)]
    if not art.manual:
        out += [(u, False) for u in art.sources]
    return out


def _check_disk(store: Store, art: Artifact, from_archive: bool) -> None:
    need = art.size or 0
    if from_archive:
        need += art.archive_size or 0
    if not need:
        return
    store.root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(store.root).free
    if free < need * DISK_MARGIN + DISK_EXTRA:
        raise DiskFull(
            f"not enough free disk space for {art.id}: needs {human_size(need)}, "
            f"{human_size(free)} free in {store.root}",
            hint="free some space, or point TFK_HOME (or TFK_WEIGHTS_DIR) at a larger disk",
        )


def _validate(art: Artifact, path: Path, origin: str) -> None:
    if not art.validator:
        return
    fn = _load_ref(art.validator)
    try:
        fn(path)
    except InvalidArtifact:
        raise
    except Exception as exc:  # a validator that crashes on a wrong file: the file is invalid
        raise InvalidArtifact(f"{origin} is not a valid {art.id}: {type(exc).__name__}: {exc}") from None


def _hold_to(art: Artifact, expected: str | None, sha: str, size: int, origin: str) -> None:
    if art.size is not None and size != art.size:
        raise ChecksumMismatch(f"{origin}: size {size} does not match {art.id} (expected {art.size} bytes)")
    if expected and sha != expected:
        raise ChecksumMismatch(f"{origin}: sha256 {sha[:12]}... does not match {art.id} (expected {expected[:12]}...)")


def _fetch_one(
    store: Store, art: Artifact, url: str, is_mirror: bool, expected: str | None, reporter: Reporter
) -> tuple[Path, str, int]:
    """Download ``url`` and return a verified temporary file holding the artifact's content, its sha256, size."""
    from tfk.weights import download
    from tfk.weights.archive import extract_member

    extract = art.kind == "archive" and not is_mirror
    total = art.archive_size if extract else art.size
    part = store.tmp_file(art.filename)
    bar = reporter.file(art.id if not extract else f"{art.id} (archive)", total)
    ok = False
    member_part: Path | None = None
    try:
        got = download.fetch(url, part, expected_size=total, progress=bar.advance)
        if extract:
            if art.archive_size is not None and got.size != art.archive_size:
                raise ChecksumMismatch(f"{url}: archive size {got.size} != expected {art.archive_size}")
            if art.archive_sha256 and got.sha256 != art.archive_sha256:
                raise ChecksumMismatch(f"{url}: archive sha256 {got.sha256[:12]}... does not match")
            member_part = store.tmp_file(art.filename)
            extract_member(part, art.member or "", member_part)
            part.unlink()
            part, member_part = member_part, None
            sha, size = sha256_file(part)
        else:
            sha, size = got.sha256, got.size
        _hold_to(art, expected, sha, size, url)
        if not art.sha256:
            _validate(art, part, url)
        ok = True
        return part, sha, size
    finally:
        bar.close(ok)
        if not ok:
            for p in (part, member_part):
                if p is not None:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()


def _summarise(errors: list[tuple[str, BaseException]]) -> str:
    from urllib.parse import urlparse

    parts = []
    for url, exc in errors:
        where = urlparse(url).netloc or urlparse(url).path
        parts.append(f"{where}: {exc}")
    return "; ".join(parts)


def _obtain(store: Store, art: Artifact, bases: list[str], reporter: Reporter) -> str:
    """Under the artifact lock: make the artifact present. Returns 'present' or 'downloaded'."""
    from tfk.weights import download

    with store.artifact_lock(art, reporter):
        entry = store.entry(art.id)
        st = store.status(art, entry)
        if st == "verified":
            return "present"  # another process finished it while we waited
        if st == "present-unverified" and store.rehash(art) == "verified":
            return "present"
        expected = store.expected_sha(art, entry)
        # The blob may be there already (view deleted, or an identical artifact): re-check and relink.
        if expected and store.blob_path(expected).is_file():
            sha, size = sha256_file(store.blob_path(expected))
            if sha == expected and (art.size is None or size == art.size):
                store._link_view(store.blob_path(expected), store.view_path(art))
                with store.edit_index() as idx:
                    e = idx.get(art.id) or {
                        "sha256": sha,
                        "size": size,
                        "filename": art.filename,
                        "source": "blob",
                        "time": _now(),
                        "pin": "manifest" if art.sha256 else "first-download",
                    }
                    e.pop("corrupt", None)
                    e["stamp"] = store._stamp(store.view_path(art), sha)
                    idx[art.id] = e
                return "present"
        cands = _candidates(art, bases, expected)
        if config.offline():
            cands = [(u, m) for u, m in cands if not download.is_network_url(u)]
        if not cands:
            raise OfflineError(f"{art.id} is missing and TFK_OFFLINE=1", missing=[art.id])
        _check_disk(store, art, from_archive=art.kind == "archive" and any(not m for _, m in cands))
        errors: list[tuple[str, BaseException]] = []
        for url, is_mirror in cands:
            try:
                part, sha, size = _fetch_one(store, art, url, is_mirror, expected, reporter)
            except (download.SourceError, download.TransientError, ChecksumMismatch, InvalidArtifact) as exc:
                if not is_mirror or not isinstance(exc, download.SourceError):
                    log.warning("%s: %s", art.id, exc)
                errors.append((url, exc))
                continue
            pin = (
                "manifest"
                if art.sha256
                else ("first-download" if not expected else (entry or {}).get("pin", "first-download"))
            )
            store.publish(art, part, sha, size, source=url, pin=pin)
            _run_derive(store, art)
            reporter.note(f"{art.id}: ok ({human_size(size)}, sha256 {sha[:12]}...) from {url}")
            return "downloaded"
        if config.offline():
            raise OfflineError(f"{art.id} is missing and no file:// mirror has it", missing=[art.id])
        bad = [e for _, e in errors if isinstance(e, ChecksumMismatch | InvalidArtifact)]
        transient = [e for _, e in errors if isinstance(e, download.TransientError)]
        msg = f"could not get {art.id}: {_summarise(errors)}"
        if bad and not transient:
            raise ChecksumMismatch(
                msg, hint=f"report the bad source, or import a good copy: tfk weights import {art.id} FILE"
            )
        raise NetworkError(msg, hint=f"check the network (or set TFK_WEIGHTS_MIRROR), then: tfk weights pull {art.id}")


def _run_derive(store: Store, art: Artifact) -> dict[str, Path]:
    """Run the artifact's derive hook once for the present content; record the outputs."""
    if not art.derive:
        return {}
    entry = store.entry(art.id) or {}
    sha = entry.get("sha256")
    if not sha:
        return {}
    fn = _load_ref(art.derive)
    work = store.tmp_file("derive")
    work.mkdir(parents=True)
    try:
        produced = fn(store.view_path(art), work) or {}
        final = store.derived_dir(art) / sha[:16]
        rel: dict[str, str] = {}
        for name, p in produced.items():
            p = Path(p).resolve()
            if work.resolve() not in p.parents:
                raise ValueError(f"derive {art.derive} returned {p}, which is outside its out_dir")
            rel[name] = str(p.relative_to(work.resolve()))
        if final.exists():
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    with store.edit_index() as idx:
        if art.id in idx:
            idx[art.id]["derived"] = {"sha256": sha, "dir": str(final.relative_to(store.root)), "files": rel}
    return {name: final / r for name, r in rel.items()}


# ------------------------------------------------------------------------------------------------
# public API


def _art(a: str | Artifact) -> Artifact:
    return a if isinstance(a, Artifact) else catalog.get(a)


def status(artifact: str | Artifact) -> str:
    """verified | present-unverified | missing | corrupt | manual-required (never hashes)."""
    return Store().status(_art(artifact))


def find(artifact_id: str | Artifact) -> Path | None:
    """The present file (verified or not yet re-hashed) or None. Never downloads, never hashes."""
    art = _art(artifact_id)
    store = Store()
    if store.status(art) in ("verified", "present-unverified"):
        return store.view_path(art)
    return None


def offline_hint(missing: list[Artifact]) -> str:
    manual = [a for a in missing if a.manual]
    public = [a for a in missing if not a.manual]
    parts = [f"tfk weights import {a.id} FILE" for a in manual]
    if public:
        ids = " ".join(a.id for a in public)
        parts.append(
            f"unset TFK_OFFLINE and run: tfk weights pull {ids} "
            "(or set TFK_WEIGHTS_MIRROR=file:///path/to/mirror, or tfk weights import ID FILE)"
        )
    return "; ".join(parts)


def _manual_error(art: Artifact, corrupt: bool = False) -> MissingWeights:
    state = "is corrupt" if corrupt else "is not in the weights store"
    first = _first_line(art.instructions)
    return MissingWeights(
        f"{art.id} {state} and must be downloaded by hand" + (f": {first}" if first else ""),
        hint=f"tfk weights import {art.id} FILE",
        missing=[art.id],
    )


def require(artifact_id: str | Artifact, progress: bool | None = True) -> Path:
    """The verified file; a missing public artifact is downloaded (unless offline).

    Raises :class:`MissingWeights` (manual artifact: with the exact import command),
    :class:`OfflineError`, :class:`NetworkError` or :class:`ChecksumMismatch`.
    """
    art = _art(artifact_id)
    store = Store()
    st = store.status(art)
    if st == "verified":
        return store.view_path(art)
    if st == "present-unverified":
        st = store.rehash(art)
        if st in ("verified", "present-unverified"):
            return store.view_path(art)
    if art.manual and not config.mirrors():
        raise _manual_error(art, corrupt=st == "corrupt")
    pull([art], progress=progress)
    if store.status(art) in ("verified", "present-unverified"):
        return store.view_path(art)
    raise _manual_error(art, corrupt=st == "corrupt")


def pull(
    ids: Iterable[str | Artifact],
    progress: bool | None = True,
    *,
    mirror: str | list[str] | None = None,
    dry_run: bool = False,
    jobs: int = 4,
) -> dict[str, str]:
    """Make public artifacts present. Returns id -> present | downloaded | manual-required | would-download.

    ``mirror`` replaces ``TFK_WEIGHTS_MIRROR`` for this call. Manual artifacts are never downloaded from
    upstream (a mirror may still hold them). Network failures, bad hashes and offline misses are raised
    after every other artifact was attempted.
    """
    arts = [_art(i) for i in ids]
    bases = (
        config.parse_mirrors(mirror if isinstance(mirror, str) else ",".join(mirror)) if mirror else config.mirrors()
    )
    store = Store()
    results: dict[str, str] = {}
    todo: list[Artifact] = []
    index = store.read_index()
    for art in arts:
        st = store.status(art, index.get(art.id))
        if st == "present-unverified":
            st = store.rehash(art)
        if st in ("verified", "present-unverified"):
            results[art.id] = "present"
        elif art.manual and not bases:
            results[art.id] = "manual-required"
        else:
            todo.append(art)
    if dry_run:
        for art in todo:
            results[art.id] = "manual-required" if art.manual else "would-download"
        return results
    if todo:
        store.sweep_tmp()
    reporter = make_reporter(progress) if todo else NullReporter()
    errors: dict[str, TfkError] = {}
    done: list[tuple[Artifact, str | TfkError]] = []
    try:

        def work(art: Artifact) -> tuple[Artifact, str | TfkError]:
            try:
                return art, _obtain(store, art, bases, reporter)
            except TfkError as exc:
                return art, exc

        n = max(1, min(jobs, len(todo)))
        if n == 1:
            done = [work(a) for a in todo]
        else:
            with ThreadPoolExecutor(max_workers=n) as pool:
                done = list(pool.map(work, todo))
    finally:
        reporter.stop()
    for art, res in done:
        if isinstance(res, TfkError):
            if art.manual and isinstance(res, NetworkError | ChecksumMismatch | OfflineError):
                results[art.id] = "manual-required"  # the mirror did not have it; instructions apply
                continue
            errors[art.id] = res
        else:
            results[art.id] = res
    if errors:
        offline = [i for i, e in errors.items() if isinstance(e, OfflineError)]
        if offline:
            missing = [catalog_art for catalog_art in arts if catalog_art.id in offline]
            missing += [a for a in arts if results.get(a.id) == "manual-required"]
            raise OfflineError(
                f"offline (TFK_OFFLINE=1): {len(missing)} artifact(s) missing: {', '.join(a.id for a in missing)}",
                hint=offline_hint(missing),
                missing=[a.id for a in missing],
            )
        first = next(iter(errors.values()))
        if len(errors) > 1:
            first.message = f"{len(errors)} artifacts failed ({', '.join(errors)}); first: {first.message}"
        raise first
    return results


def verify(ids: Iterable[str | Artifact] | None = None) -> dict[str, str]:
    """Re-hash (ignoring stamps) and return id -> verified | corrupt | missing | manual-required | present-unverified.

    With no ids: every known artifact that is present in the store.
    """
    store = Store()
    if ids is None:
        arts = [a for a in catalog.all_artifacts().values() if store.view_path(a).exists()]
    else:
        arts = [_art(i) for i in ids]
    return {a.id: store.rehash(a) for a in arts}


def import_file(artifact_id: str | Artifact, file: str | os.PathLike, move: bool = False) -> Path:
    """Validate a user-supplied file (hash, or the structural validator), pin it, run ``derive``.

    For an ``archive`` artifact the downloaded archive itself may be given: its ``member`` is
    extracted safely. ``move=True`` deletes the original after a successful import.
    """
    from tfk.weights.archive import extract_member, is_archive

    art = _art(artifact_id)
    src = Path(file).expanduser()
    if not src.is_file():
        raise InputNotFound(
            f"{src} does not exist or is not a file", hint=f"tfk weights import {art.id} /path/to/{art.filename}"
        )
    store = Store()
    with store.artifact_lock(art):
        part = store.tmp_file(art.filename)
        try:
            if art.kind == "archive" and is_archive(src) and not is_archive_name(art.filename):
                extract_member(src, art.member or "", part)
            elif move:
                try:
                    os.link(src, part)  # no copy; the original is unlinked only once the file is accepted
                except OSError:
                    shutil.copyfile(src, part)
            else:
                shutil.copyfile(src, part)
            sha, size = sha256_file(part)
            if art.sha256:
                if sha != art.sha256:
                    raise ChecksumMismatch(
                        f"{src.name} is not {art.id}: sha256 {sha[:12]}... differs from the published "
                        f"{art.sha256[:12]}...",
                        hint="check that you downloaded the right file (see: tfk weights list --json)",
                    )
            else:
                if art.size is not None and size != art.size:
                    raise ChecksumMismatch(f"{src.name} is not {art.id}: {size} bytes, expected {art.size}")
                _validate(art, part, src.name)
            source = f"manual:{src.absolute()}"
            moved = False
            if move and src.exists():
                src.unlink()
                moved = True
            try:
                view = store.publish(art, part, sha, size, source=source, pin="manifest" if art.sha256 else "import")
            except BaseException:
                if moved and part.exists() and not src.exists():
                    with contextlib.suppress(OSError):
                        os.link(part, src)  # give the user their file back
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        _run_derive(store, art)
    return view


def is_archive_name(name: str) -> bool:
    return name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"))


def derived(artifact_id: str | Artifact, name: str) -> Path:
    """A file built by the artifact's ``derive`` hook (built now if the artifact is present but underived)."""
    art = _art(artifact_id)
    store = Store()
    if find(art) is None:
        raise (
            _manual_error(art)
            if art.manual
            else MissingWeights(
                f"{art.id} is not in the weights store", hint=f"tfk weights pull {art.id}", missing=[art.id]
            )
        )
    entry = store.entry(art.id) or {}
    info = entry.get("derived") or {}
    files = info.get("files") or {}
    path = store.root / info["dir"] / files[name] if name in files and info.get("dir") else None
    if (path is None or not path.exists()) and art.derive:
        with store.artifact_lock(art):
            made = _run_derive(store, art)
        path = made.get(name)
    if path is None or not path.exists():
        have = ", ".join(sorted(files)) or "none"
        raise UsageError(f"{art.id} has no derived file {name!r} (derived files: {have})")
    return path


def remove(artifact_id: str | Artifact) -> bool:
    """Delete the artifact's view, derived files and index entry (and its blob when unreferenced)."""
    art = _art(artifact_id)
    store = Store()
    with store.artifact_lock(art):
        view = store.view_path(art)
        existed = view.exists()
        with contextlib.suppress(FileNotFoundError):
            view.unlink()
        shutil.rmtree(store.derived_dir(art), ignore_errors=True)
        with store.edit_index() as idx:
            entry = idx.pop(art.id, None)
        store._drop_unreferenced((entry or {}).get("sha256"))
        for d in (view.parent, *view.parent.parents):
            if d == store.by_id or store.by_id not in d.parents:
                break
            with contextlib.suppress(OSError):
                d.rmdir()
    return existed or entry is not None


def seed_library_caches(artifacts: Iterable[Artifact] | None = None) -> dict[str, str]:
    """Point TORCH_HOME/HF_HOME at tfk-managed dirs and seed torch hub checkpoints from the store.

    Skipped (returns {}) when ``TFK_KEEP_LIBRARY_CACHES=1``. With ``TFK_OFFLINE=1`` also sets
    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE``. Returns the environment variables set.
    """
    if config.env_flag("TFK_KEEP_LIBRARY_CACHES"):
        return {}
    home = tfk_home()
    env = {"TORCH_HOME": str(home / "torch"), "HF_HOME": str(home / "hf")}
    if config.offline():
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    os.environ.update(env)
    ckpt = home / "torch" / "hub" / "checkpoints"
    store = Store()
    arts = catalog.all_artifacts().values() if artifacts is None else artifacts
    index = store.read_index()
    for art in arts:
        if not art.torch_hub_name or store.status(art, index.get(art.id)) not in ("verified", "present-unverified"):
            continue
        src = store.view_path(art)
        dst = ckpt / art.torch_hub_name
        with contextlib.suppress(OSError):
            if dst.exists() and os.path.samefile(src, dst):
                continue
        ckpt.mkdir(parents=True, exist_ok=True)
        store._link_view(src, dst)
    return env
