"""Run the shared preprocessing for one subject (the plugins' ``preprocess`` modules call this)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from tfk.nerfprep.config import PrepConfig
from tfk.workspace.pipeline import Pipeline, StepStatus
from tfk.workspace.workspace import Workspace

log = logging.getLogger("tfk.nerfprep")


def preprocess(
    workspace: Workspace,
    video: str | os.PathLike[str],
    cfg: PrepConfig,
    *,
    force: bool = False,
    from_step: str | None = None,
    until_step: str | None = None,
    progress=None,
    logger: logging.Logger | None = None,
) -> tuple[Path | None, list[StepStatus]]:
    """Build and run the pipeline; returns (the subject folder or ``None`` when stopped early, step results).

    Skipped steps (missing weights/tools) are reported on stderr with their reason.
    """
    from tfk.nerfprep.layout import DATASET, subject_dir
    from tfk.nerfprep.steps import build_steps, skipped_reason

    lg = logger or log
    pipe = Pipeline(workspace, build_steps(workspace, video, cfg))
    done = workspace.step_dir("normalize") / ".done.json"
    if cfg.layout == "dfrf" and done.is_file() and not force and from_step is None:
        import json

        from tfk.nerfprep.steps import check_references

        frames = json.loads(done.read_text()).get("info", {}).get("frames")
        if frames:  # the clip is known: refuse bad reference frames before any work
            check_references(cfg, int(frames))
    results = pipe.run(force=force, from_step=from_step, until_step=until_step, progress=progress)
    for step in pipe.steps:
        d = workspace.step_dir(step.name)
        why = skipped_reason(d) if d.is_dir() else None
        if why:
            from tfk.console import warn

            lg.info("step %s skipped: %s", step.name, why)
            warn(f"step {step.name} skipped: {why}")
    if not (workspace.step_dir(DATASET) / ".done.json").is_file() or until_step not in (None, DATASET):
        return None, results
    return subject_dir(workspace), results
