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

__all__ = ["STAGES", "Check", "ModelInfo", "Option", "PluginUnavailable", "StageContext", "hookimpl"]


@dataclass(frozen=True)
class Option:
    """A model-specific command-line option of one stage (``name="video"`` gives ``--video``).

    ``type`` is one of ``str, int, float, bool, Path``; ``choices`` restricts a ``str``.
    ``exists=True`` on a ``Path`` option makes the CLI refuse a missing path (exit 66) before
    the plugin runs; ``media`` (``"video"``, ``"audio"``, ``"video+audio"``, ``"image"``) runs the
    media preflight on it too. ``argument=True`` makes it positional (``tfk preprocess m VIDEO``).
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

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


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

    def options_for(self, stage: str) -> list[Option]:
        if stage not in VERBS:
            raise ValueError(f"unknown stage {stage!r}")
        return list(self.options.get(stage, []))


@dataclass(frozen=True)
class Check:
    """One ``tfk doctor`` check. ``run()`` returns ``(status, detail)`` with status ok|warn|error."""

    name: str
    run: Callable[[], tuple[str, str]]
    hint: str = ""


@dataclass
class StageContext:
    """Everything a stage hook gets from the core besides its options."""

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

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"tfk.{self.model}")

    def require(self, artifact_id: str) -> Path:
        """Path of an artifact, pulling a public one if missing (never a manual one)."""
        from tfk.weights import require

        path = require(artifact_id)
        if self.run is not None:
            self.run.record_artifact(artifact_id, path)
        return path
