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
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tfk import fsutil
from tfk.errors import ChecksumMismatch, InputNotFound, MissingWeights, NetworkError, OfflineError, TfkError, UsageError
from tfk.progress import NullReporter, make_reporter
from tfk.weights import catalog, config
from tfk.weights.acquire import _obtain, _run_derive, _validate
from tfk.weights.artifact import Artifact
from tfk.weights.config import tfk_home  # re-exported: tfk.weights.store.tfk_home()
from tfk.weights.layout import STATUSES, Store, _first_line

__all__ = [
    "STATUSES",
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
            sha, size = fsutil.sha256_and_size(part)
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
