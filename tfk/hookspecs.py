"""The pluggy hook specifications every tfk plugin implements a subset of.

A plugin is one module registered under its entry-point name in the group ``tfk.plugins``
(``lawdnet = "tfk_lawdnet.plugin"``). The module imports only the standard library and ``tfk``;
heavy libraries are imported inside the hook implementations.

Stage hooks (``tfk_preprocess``, ``tfk_train``, ``tfk_infer``, ``tfk_evaluate``,
``tfk_download_weights``) are called *only on the plugin named on the command line*: ``tfk infer
lawdnet`` calls the lawdnet plugin's ``tfk_infer`` and no other. A plugin implements a stage by
defining the hook; the stages it defines are the stages it has. Declarative hooks (``tfk_model``,
``tfk_artifacts``, ``tfk_doctor_checks``, ``tfk_available``) are called per plugin as well, each
inside its own error guard, so one failing plugin never hides another.

Specs evolve only by adding keyword arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from tfk.plugin import Check, ModelInfo, StageContext
    from tfk.weights.artifact import Artifact

PROJECT = "tfk"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

STAGES = ("preprocess", "train", "infer", "evaluate", "download-weights")
#: verbs beyond the five stages that a plugin may also implement
EXTRA_VERBS = ("serve", "demo")
VERBS = STAGES + EXTRA_VERBS


@hookspec(firstresult=True)
def tfk_model() -> ModelInfo:
    """Describe the model: summary, version, per-stage command-line options (:class:`tfk.plugin.Option`).

    Called once at load time. Must be cheap and import nothing heavy.
    """


@hookspec(firstresult=True)
def tfk_available() -> str | None:
    """Return ``None`` when the plugin can run here, else a one-line reason (e.g. ``"needs CUDA"``).

    A plugin may instead raise :class:`tfk.errors.PluginUnavailable` at import time.
    """


@hookspec
def tfk_artifacts() -> list[Artifact]:
    """Declare the plugin's weights manifest: every file it may need, public or manual."""


@hookspec
def tfk_doctor_checks() -> list[Check]:
    """Return health checks that ``tfk doctor`` runs for this plugin (e.g. a CUDA extension imports)."""


@hookspec(firstresult=True)
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Turn raw inputs into the model's training/inference data in ``ctx.workspace``.

    Use :class:`tfk.workspace.Pipeline` so that steps resume after interruption.
    """


@hookspec(firstresult=True)
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Train or fine-tune.

    Checkpoints are written atomically in the subject workspace (``ctx.workspace.path("train", ...)``),
    where the next run resumes from them; record the final one with ``ctx.run.record_output`` (logs go
    under ``ctx.run.dir``). Return the final checkpoint's path.
    """


@hookspec(firstresult=True)
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Produce the model's output (usually a video); return the output path(s)."""


@hookspec(firstresult=True)
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Compute metrics; return a ``dict`` of metric name to value (written to ``metrics.json``)."""


@hookspec(firstresult=True)
def tfk_download_weights(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Fetch the plugin's weights. Optional: without it, ``tfk weights pull MODEL`` pulls the manifest."""


@hookspec(firstresult=True)
def tfk_serve(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Run a long-lived service (e.g. an HTTP API) for the model until interrupted."""


@hookspec(firstresult=True)
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    """Run the model end to end on built-in media (``tfk demo MODEL``); return the output path.

    Stages of the demo run through :func:`tfk.runner.run_stage` like any other call.
    """


HOOK_FOR_STAGE = {
    "preprocess": "tfk_preprocess",
    "train": "tfk_train",
    "infer": "tfk_infer",
    "evaluate": "tfk_evaluate",
    "download-weights": "tfk_download_weights",
    "serve": "tfk_serve",
    "demo": "tfk_demo",
}
