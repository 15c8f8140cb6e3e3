"""A subject workspace: everything tfk keeps for one (model, uid)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tfk import errors

_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_uid(uid: str) -> str:
    if not isinstance(uid, str) or not _UID.fullmatch(uid):
        raise errors.UsageError(
            f"invalid --uid {uid!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return uid


def split_uids(value: str | Sequence[str]) -> tuple[str, ...]:
    """The subjects ``--uid a,b,c`` names (a string split at commas, or a sequence), each checked.

    An empty name (``a,,b``, a trailing comma) or a name given twice is a usage error (exit 2).
    """
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    text = ",".join(items)
    if not items or any(item == "" for item in items):
        raise errors.UsageError(f"invalid --uid {text!r}: an empty subject name (use a,b,c)")
    seen: set[str] = set()
    for item in items:
        check_uid(item)
        if item in seen:
            raise errors.UsageError(f"invalid --uid {text!r}: {item!r} is named twice")
        seen.add(item)
    return tuple(items)


def uids_label(uids: Sequence[str]) -> str:
    """One directory name for a run over several subjects: ``a+b+c`` ('+' is never part of a uid).

    A long list is shortened to ``<first>+<n>more-<hash>`` so that the name stays a valid path component.
    """
    label = "+".join(uids)
    if len(label) <= 120:
        return label
    digest = hashlib.sha256("\0".join(uids).encode()).hexdigest()[:10]
    return f"{uids[0]}+{len(uids) - 1}more-{digest}"


@dataclass(frozen=True)
class Workspace:
    """``TFK_HOME/subjects/<uid>/<model>/`` (or an explicit ``--workspace DIR``)."""

    model: str
    uid: str
    root: Path

    @classmethod
    def for_subject(cls, model: str, uid: str, root: str | Path | None = None) -> Workspace:
        check_uid(uid)
        if root is None:
            from tfk.paths import subjects_root

            path = subjects_root() / uid / model
        else:
            path = Path(root).expanduser().resolve()
        return cls(model, uid, path)

    @property
    def steps_dir(self) -> Path:
        return self.root / "steps"

    def step_dir(self, name: str) -> Path:
        """Where the published outputs of step ``name`` live."""
        return self.steps_dir / name

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def ensure(self) -> Workspace:
        self.steps_dir.mkdir(parents=True, exist_ok=True)
        return self
