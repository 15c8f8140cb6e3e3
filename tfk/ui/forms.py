"""From a plugin's ``Option`` declarations to form fields and back (no gradio import here).

The page and the CLI read the same declarations, so a model gets its form without UI code of its own:
``fields_for(info, "infer")`` gives one :class:`Field` per option a person fills in, and
``to_options(fields, values)`` turns the widgets' values into exactly the options dict the CLI would
pass to the stage (typed, defaults where a field was left empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfk.plugin import ModelInfo, Option
    from tfk.weights.artifact import Artifact

#: field kinds: one widget each
KINDS = ("file", "number", "integer", "choice", "flag", "text", "list")


@dataclass(frozen=True)
class Field:
    """One form widget for one ``Option``."""

    dest: str
    label: str
    kind: str  # one of KINDS
    help: str = ""
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    media: str | None = None  # for files: video | audio | image | video+audio | None
    option: Option | None = None


def _is_output(opt: Option) -> bool:
    return opt.output


def field_for(opt: Option) -> Field:
    """The widget of one option."""
    label = opt.dest.replace("_", " ")
    help_text = opt.help + (" (required)" if opt.required else "")
    common = {"dest": opt.dest, "label": label, "help": help_text, "required": opt.required, "option": opt}
    if opt.multiple:
        return Field(kind="list", default=", ".join(map(str, opt.default or ())), **common)
    if opt.choices:
        return Field(kind="choice", default=opt.default, choices=tuple(opt.choices), **common)
    if opt.type is bool:
        return Field(kind="flag", default=bool(opt.default), **common)
    if opt.type is int:
        return Field(kind="integer", default=opt.default, **common)
    if opt.type is float:
        return Field(kind="number", default=opt.default, **common)
    if opt.type is Path:
        return Field(kind="file", default=None, media=opt.media, **common)
    return Field(kind="text", default=opt.default if opt.default is not None else "", **common)


def fields_for(info: ModelInfo, stage: str = "infer") -> list[Field]:
    """The fields of a stage's form, in declaration order (output paths are the page's business)."""
    return [field_for(o) for o in info.options_for(stage) if not _is_output(o)]


def output_option(info: ModelInfo, stage: str = "infer") -> Option | None:
    """The option that names the stage's output file, if the stage has one."""
    return next((o for o in info.options_for(stage) if _is_output(o)), None)


def _raw(field: Field, value: Any) -> Any:
    """A widget's value as the CLI would have read it (None for an empty field)."""
    if field.kind == "flag":
        return bool(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if field.kind == "file":
        path = value if isinstance(value, str | Path) else getattr(value, "path", None) or getattr(value, "name", None)
        return Path(str(path))
    if field.kind == "list":
        return tuple(v.strip() for v in str(value).split(",") if v.strip())
    if field.kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_options(fields: list[Field], values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    """Widget values (in field order) -> the options dict the CLI would pass, validated the same way.

    Empty fields take their declared defaults; a missing required value or an invalid one is the CLI's
    :class:`~tfk.errors.UsageError` (:func:`tfk.runner.parse_options`).
    """
    from tfk.runner import parse_options

    if len(values) != len(fields):
        raise ValueError(f"{len(fields)} fields but {len(values)} values")
    raw = {f.dest: _raw(f, v) for f, v in zip(fields, values, strict=True)}
    return parse_options([f.option for f in fields if f.option is not None], raw)


def subjects(model: str) -> list[str]:
    """The uids with a workspace for ``model`` under ``TFK_HOME/subjects`` (sorted)."""
    from tfk.paths import subjects_root

    root = subjects_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / model).is_dir())


def _need(art: Artifact, model: str, stage: str) -> str | None:
    """``"required"`` (the stage cannot run without it), ``"maybe"`` (declared for the model, not scoped to a
    stage: some settings need it) or None."""
    if art.optional:
        return None
    scopes = [u.split(":", 1)[1] for u in art.used_by if u.startswith(f"{model}:")]
    if scopes:
        return "required" if stage in scopes else None
    if art.namespace == model:
        return "required"
    return "maybe"


@dataclass(frozen=True)
class MissingWeight:
    artifact_id: str
    command: str
    required: bool  # False: some settings of the stage need it


def missing_weights(model: str, stage: str = "infer") -> list[MissingWeight]:
    """The weights the stage may need that the store lacks, each with the command that gets it."""
    from tfk.weights import status
    from tfk.weights.catalog import for_model

    out: list[MissingWeight] = []
    for art in for_model(model):
        need = _need(art, model, stage)
        if need is None or status(art) in ("verified", "present-unverified"):
            continue
        pull = f"tfk weights pull {art.id}"
        command = f"tfk weights import {art.id} /path/to/{art.filename}" if art.manual else pull
        out.append(MissingWeight(art.id, command, need == "required"))
    return out
