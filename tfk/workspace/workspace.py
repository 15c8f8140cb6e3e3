"""A subject workspace: everything tfk keeps for one (model, uid)."""

from __future__ import annotations

import re
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
