"""LawDNet training: coarse-to-fine stages (frame64, frame128, frame256, clip288), resumable, DDP-capable.

``from tfk_lawdnet.train import train`` is cheap; torch is imported when ``train`` runs.

Checkpoints live in the subject workspace, ``<workspace>/train/<preset>/`` (or ``--out``), so that the
next ``tfk train lawdnet --uid NAME`` resumes from them; the run directory records the final generator
and holds the TensorBoard logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.errors import InputNotFound, UsageError

__all__ = ["train", "train_stage"]


def train(data_root: str | Path, out_dir: str | Path, **kwargs: Any) -> Path:
    """See :func:`tfk_lawdnet.train.runner.train`."""
    from tfk_lawdnet.train.runner import train as _train

    return _train(data_root, out_dir, **kwargs)


def train_stage(ctx: Any, options: dict[str, Any]) -> Path:
    """The ``tfk_train`` hook body: train on the subject's preprocessed dataset."""
    if ctx.workspace is None:
        raise UsageError("train lawdnet needs --uid (or --workspace)")
    data_root = ctx.workspace.step_dir("dataset")
    if not (data_root / "index.json").is_file():
        raise InputNotFound(
            f"subject {ctx.workspace.uid} has no LawDNet training data",
            hint=f"tfk preprocess lawdnet VIDEO_OR_DIR --uid {ctx.workspace.uid}",
        )
    preset = options["preset"]
    out = Path(options["out"]) if options["out"] else ctx.workspace.path("train", preset)
    log_dir = ctx.run.dir / "tensorboard" if ctx.run is not None else out / "tensorboard"
    overrides: dict[str, Any] = {}
    if options.get("steps") is not None:  # exactly this many steps per epoch: enough samples, then the cap
        from tfk_lawdnet.train.config import preset as stages_of

        stages = stages_of(preset)
        need = options["steps"] * max(s.batch for s in stages)
        overrides["augment_num"] = max(need, *(s.augment_num for s in stages))
        overrides["max_steps_per_epoch"] = options["steps"]
    if options.get("lr") is not None:
        overrides["lr_g"] = options["lr"]
    if options.get("losses") == "pixel":
        overrides.update(lamb_perception=0.0, lamb_g_di=0.0, lamb_g_dv=0.0, lamb_sync=0.0)
    result = train(
        data_root,
        out,
        stages=list(options["stage"]) or None,
        preset=preset,
        resume=options["resume"],
        device=ctx.device,
        nproc=options["nproc_per_node"],
        progress=ctx.progress,
        log_dir=log_dir,
        overrides=overrides or None,
    )
    if ctx.run is not None:
        ctx.run.record_output("generator", result)
    return Path(result)
