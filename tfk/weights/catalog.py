"""The set of known artifacts: what the registry declared, plus test/embedding registrations.

Nothing here discovers plugins. The registry (:mod:`tfk.registry`) collects the declarations of the
toolboxes and the installed plugins (their ``tfk_artifacts`` hooks) and hands them over with
:func:`set_declared`. When the store is used before anything loaded the registry (a library call), the
loader installed by the composition root (:func:`set_loader`, done in ``tfk/__init__.py``) runs once.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable

from tfk.errors import UsageError
from tfk.weights.artifact import Artifact

log = logging.getLogger("tfk.weights")

_registered: dict[str, Artifact] = {}
_declared: dict[str, Artifact] | None = None
_loader: Callable[[], object] | None = None


def set_declared(artifacts: Iterable[Artifact]) -> None:
    """The declared artifacts (called by the registry each time it loads)."""
    global _declared
    table: dict[str, Artifact] = {}
    for art in artifacts:
        if not isinstance(art, Artifact):
            log.warning("ignoring a non-Artifact declaration: %r", art)
            continue
        if art.unverifiable:  # refused when a download is attempted (tfk.weights.acquire)
            log.debug("%s: tfk will not download it (declare its sha256, size or a validator)", art.unverifiable)
        table.setdefault(art.id, art)
    _declared = table


def set_loader(loader: Callable[[], object] | None) -> None:
    """What to call when declarations are needed before any were handed over."""
    global _loader
    _loader = loader


def _declarations() -> dict[str, Artifact]:
    if _declared is None and _loader is not None:
        _loader()
    return dict(_declared or {})


def register_artifacts(artifacts: Iterable[Artifact]) -> None:
    """Add artifacts (tests, embedding applications). A later registration of an id replaces it.

    A public artifact without sha256, size or validator is refused (:class:`ValueError`).
    """
    arts = list(artifacts)
    for art in arts:
        if not isinstance(art, Artifact):
            raise TypeError(f"expected an Artifact, got {type(art).__name__}")
        if art.unverifiable:
            raise ValueError(f"{art.unverifiable}: declare its sha256, its exact size or a validator")
    for art in arts:
        _registered[art.id] = art


def clear_registered() -> None:
    """Forget artifacts added with :func:`register_artifacts`."""
    _registered.clear()


def all_artifacts() -> dict[str, Artifact]:
    """Every known artifact by id (first declaration wins; conflicting duplicates are logged)."""
    out: dict[str, Artifact] = {}
    for art in [*_declarations().values(), *_registered.values()]:
        prev = out.get(art.id)
        if prev is None or (art.id in _registered and art is _registered[art.id]):
            out[art.id] = art
        elif prev != art:
            log.warning("artifact %s is declared twice with different fields; keeping the first", art.id)
    return out


def get(artifact_id: str, artifacts: dict[str, Artifact] | None = None) -> Artifact:
    """The artifact with this id; :class:`UsageError` (with a did-you-mean) if unknown."""
    arts = all_artifacts() if artifacts is None else artifacts
    art = arts.get(artifact_id)
    if art is not None:
        return art
    close = difflib.get_close_matches(artifact_id, list(arts), n=1, cutoff=0.6)
    msg = f"unknown artifact {artifact_id!r}"
    if close:
        msg += f"; did you mean {close[0]!r}?"
    raise UsageError(msg, hint="tfk weights list")


def for_model(name: str, artifacts: dict[str, Artifact] | None = None) -> list[Artifact]:
    """The model's own artifacts and the shared ones that list it in ``used_by``."""
    arts = all_artifacts() if artifacts is None else artifacts
    return [a for a in arts.values() if a.namespace == name or name in a.used_by]


def resolve(targets: Iterable[str], artifacts: dict[str, Artifact] | None = None) -> list[Artifact]:
    """Expand command-line targets (artifact ids or model names) into artifacts, in order, once each."""
    arts = all_artifacts() if artifacts is None else artifacts
    out: dict[str, Artifact] = {}
    for t in targets:
        if t in arts:
            out.setdefault(t, arts[t])
            continue
        if "/" not in t:
            found = for_model(t, arts)
            if found:
                for a in found:
                    out.setdefault(a.id, a)
                continue
            models = sorted(
                {a.namespace for a in arts.values()} - {"shared"} | {m for a in arts.values() for m in a.used_by}
            )
            close = difflib.get_close_matches(t, models, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(f"no artifacts known for model or id {t!r}{hint}", hint="tfk weights list")
        get(t, arts)  # raises with a suggestion
    return list(out.values())
