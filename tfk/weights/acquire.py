"""Acquiring an artifact: mirrors, download, archive extraction, validation and derived files."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from tfk import fsutil
from tfk.errors import (
    ChecksumMismatch,
    DiskFull,
    InvalidArtifact,
    NetworkError,
    OfflineError,
)
from tfk.progress import Reporter, human_size
from tfk.weights import config
from tfk.weights.artifact import Artifact
from tfk.weights.layout import Store, _load_ref, _now, log

DISK_MARGIN = 1.1
DISK_EXTRA = 16 << 20


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


def _origin_named(message: str, path: Path, origin: str) -> str:
    """A validator's message about the in-flight file, naming what the user knows (their file, the URL)."""
    return message.replace(str(path), origin).replace(path.name, origin)


def _validate(art: Artifact, path: Path, origin: str) -> None:
    """Run the artifact's validator on ``path``; its errors name ``origin``, never the temporary file."""
    if not art.validator:
        return
    fn = _load_ref(art.validator)
    try:
        fn(path)
    except InvalidArtifact as exc:
        raise InvalidArtifact(_origin_named(exc.message, path, origin), hint=exc.hint) from None
    except Exception as exc:  # a validator that crashes on a wrong file: the file is invalid
        detail = _origin_named(f"{type(exc).__name__}: {exc}", path, origin)
        raise InvalidArtifact(f"{origin} is not a valid {art.id}: {detail}") from None


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
            sha, size = fsutil.sha256_and_size(part)
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

    if art.unverifiable:
        raise InvalidArtifact(
            f"{art.unverifiable}; tfk will not download it",
            hint=f"report it to the plugin's authors, or import a copy you checked: tfk weights import {art.id} FILE",
        )
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
            sha, size = fsutil.sha256_and_size(store.blob_path(expected))
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
