"""The public API for plugin authors: ``from tfk.plugin import hookimpl, ModelInfo, Option, Check``.

Importing this module is cheap (no torch, no cv2), so a plugin's entry module can import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfk.errors import PluginUnavailable
from tfk.hookspecs import STAGES, VERBS, hookimpl

if TYPE_CHECKING:
    from tfk.progress import Progress
    from tfk.workspace import Run, Workspace

__all__ = ["STAGES", "Check", "ModelInfo", "Option", "PluginUnavailable", "StageContext", "hookimpl", "package_version"]


@dataclass(frozen=True)
class Option:
    """A model-specific command-line option of one stage (``name="video"`` gives ``--video``).

    ``type`` is one of ``str, int, float, bool, Path``; ``choices`` restricts a ``str``.
    ``exists=True`` on a ``Path`` option makes the CLI refuse a missing path (exit 66) before
    the plugin runs; ``media`` (``"video"``, ``"audio"``, ``"video+audio"``, ``"image"``) runs the
    media preflight on it too (``decode=False``: header checks only, for an input whose first real
    pass detects truncation itself). ``argument=True`` makes it positional (``tfk preprocess m VIDEO``).

    Values are validated once, when the command line is parsed (usage error, exit 2): ``min``/``max``
    bound an ``int``/``float``; ``validator(value)`` returns the (possibly normalised) value or raises
    ``ValueError`` with a one-line reason. ``output=True`` marks an output path: the core refuses it
    when it names one of the run's input files (also through links).
    """

    name: str
    type: type = str
    help: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] | None = None
    short: str | None = None
    exists: bool = False
    media: str | None = None
    multiple: bool = False
    metavar: str | None = None
    argument: bool = False
    min: float | None = None
    max: float | None = None
    validator: Callable[[Any], Any] | None = None
    output: bool = False
    decode: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def is_input(self) -> bool:
        """A path the stage reads (``exists`` or ``media``)."""
        return bool(self.exists or self.media)

    def check(self, value: Any) -> Any:
        """``value`` converted to ``type`` and validated; ``ValueError`` with a one-line reason otherwise.

        ``None`` passes through (an unset optional option). A ``multiple`` option checks each item.
        """
        if value is None:
            return None
        if self.multiple and isinstance(value, list | tuple):
            return tuple(self.check(v) for v in value)
        value = self._convert(value)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.min is not None and value < self.min:
            raise ValueError(f"must be at least {_num(self.min)}, got {_num(value)}")
        if self.max is not None and value > self.max:
            raise ValueError(f"must be at most {_num(self.max)}, got {_num(value)}")
        if self.validator is not None:
            out = self.validator(value)
            value = value if out is None else out
        return value

    def _convert(self, value: Any) -> Any:
        t = self.type
        if t is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(f"{value!r} is not a boolean")
            return bool(value)
        if t is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(f"{value!r} is not an integer")
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not an integer") from None
        if t is float:
            try:
                out = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not a number") from None
            if out != out or out in (float("inf"), float("-inf")):
                raise ValueError(f"{value!r} is not a finite number")
            return out
        if t is Path:
            return Path(value)
        return str(value) if t is str else value


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


@dataclass(frozen=True)
class ModelInfo:
    """What a plugin says about its model (returned by the ``tfk_model`` hook)."""

    summary: str
    version: str
    options: dict[str, list[Option]] = field(default_factory=dict)  # stage -> options
    stage_help: dict[str, str] = field(default_factory=dict)  # stage -> one-line help
    homepage: str = ""
    paper: str = ""
    supports_ddp: bool = False
    subject_stages: tuple[str, ...] = ()  # stages besides preprocess and train that work on a subject (--uid)
    #: stages whose ``--uid`` may name several subjects (``--uid a,b,c``) -> the bool option that allows it
    #: (``{"train": "base"}``: only with ``--base``), or ``""`` for always; see :attr:`StageContext.uids`
    multi_uid_stages: dict[str, str] = field(default_factory=dict)

    def options_for(self, stage: str) -> list[Option]:
        if stage not in VERBS:
            raise ValueError(f"unknown stage {stage!r}")
        return list(self.options.get(stage, []))

    def needs_uid(self, stage: str) -> bool:
        """Whether ``stage`` needs ``--uid``: preprocess and train always, others when declared."""
        return stage in ("preprocess", "train") or stage in self.subject_stages

    def takes_uids(self, stage: str) -> bool:
        """Whether ``--uid`` of ``stage`` may name several subjects (when :meth:`uids_option` is set, if any)."""
        return stage in self.multi_uid_stages

    def uids_option(self, stage: str) -> str | None:
        """The bool option (dest) that must be on for several subjects in ``stage``; None when always allowed."""
        return self.multi_uid_stages.get(stage) or None


@dataclass(frozen=True)
class Check:
    """One ``tfk doctor`` check. ``run()`` returns ``(status, detail)`` with status ok|warn|error."""

    name: str
    run: Callable[[], tuple[str, str]]
    hint: str = ""


@dataclass
class StageContext:
    """Everything a stage hook gets from the core besides its options.

    ``uids``/``workspaces``: every subject ``--uid`` named, in order, and their workspaces. ``workspace`` is
    the subject's workspace when there is one subject and None when there are several (a stage declared in
    :attr:`ModelInfo.multi_uid_stages`), so that a multi-subject run never writes into one of them by accident.
    """

    model: str
    stage: str
    home: Path
    device: str = "cpu"
    workspace: Workspace | None = None
    run: Run | None = None
    progress: Progress | None = None
    force: bool = False
    from_step: str | None = None
    until_step: str | None = None
    debug: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Path] = field(default_factory=dict)  # artifact id -> file, used instead of the store
    uids: tuple[str, ...] = ()
    workspaces: tuple[Workspace, ...] = ()

    def __post_init__(self) -> None:
        if self.workspace is not None and not self.workspaces:
            self.workspaces = (self.workspace,)
        if self.workspaces and not self.uids:
            self.uids = tuple(ws.uid for ws in self.workspaces)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"tfk.{self.model}")

    def require(self, artifact_id: str) -> Path:
        """Path of an artifact, pulling a public one if missing (never a manual one).

        ``weights`` (set by the caller of :func:`tfk.runner.run_stage`, e.g. the demo) takes precedence.
        """
        from tfk.weights import require

        path = self.weights[artifact_id] if artifact_id in self.weights else require(artifact_id)
        if self.run is not None:
            self.run.record_artifact(artifact_id, path)
        return path


def package_version(dist: str, fallback: str = "0+unknown") -> str:
    """The installed version of distribution ``dist`` (a plugin's ``__version__``), without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return fallback
