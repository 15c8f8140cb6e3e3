"""The set of known artifacts: shared toolbox declarations, installed plugins, and test registrations.

Shared toolboxes declare theirs in light modules ``tfk/<toolbox>/artifacts.py`` (a list ``ARTIFACTS``);
plugins return theirs from the ``tfk_artifacts`` hook, collected by :func:`tfk.plugins.load_registry`.
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Iterable

from tfk.errors import UsageError
from tfk.weights.artifact import Artifact

log = logging.getLogger("tfk.weights")

SHARED_MODULES = ("tfk.audio.artifacts", "tfk.face.artifacts", "tfk.metrics.artifacts", "tfk.tdmm.artifacts")

_registered: dict[str, Artifact] = {}


def register_artifacts(artifacts: Iterable[Artifact]) -> None:
    """Add artifacts (tests, embedding applications). A later registration of an id replaces it."""
    for art in artifacts:
        if not isinstance(art, Artifact):
            raise TypeError(f"expected an Artifact, got {type(art).__name__}")
        _registered[art.id] = art


def clear_registered() -> None:
    """Forget artifacts added with :func:`register_artifacts`."""
    _registered.clear()


def _shared() -> list[Artifact]:
    found: list[Artifact] = []
    for name in SHARED_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue  # the toolbox (or its artifacts module) is not there
            log.warning("cannot import %s: %s", name, exc)
            continue
        found.extend(getattr(mod, "ARTIFACTS", []) or [])
    return found


def _from_plugins() -> list[Artifact]:
    try:
        from tfk import plugins

        reg = plugins.load_registry()
        arts = reg.artifacts
    except (ImportError, AttributeError):
        return []
    if isinstance(arts, dict):
        return list(arts.values())
    return list(arts or [])


def all_artifacts() -> dict[str, Artifact]:
    """Every known artifact by id (first declaration wins; conflicting duplicates are logged)."""
    out: dict[str, Artifact] = {}
    for art in [*_shared(), *_from_plugins(), *_registered.values()]:
        if not isinstance(art, Artifact):
            log.warning("ignoring a non-Artifact declaration: %r", art)
            continue
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
