"""StyleHEAT training: ``train()`` (stages ``warper`` and ``full``) and the stage hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["train_stage"]


def train_stage(ctx, options: dict[str, Any]) -> Path:
    from tfk.errors import UsageError
    from tfk_styleheat.train.trainer import latest_checkpoint, train

    if ctx.workspace is None:
        raise UsageError("tfk train styleheat needs --uid (the subject whose lmdb `tfk preprocess` wrote)")
    root = Path(ctx.workspace.root)
    out = root / "runs" / options["stage"]
    train(
        root / "lmdb",
        out,
        options["stage"],
        options["preset"],
        options["iterations"],
        options["resume"],
        options["nproc_per_node"],
        ctx.require,
        ctx.device,
    )
    ck = latest_checkpoint(out)
    if ctx.run is not None and ck is not None:
        ctx.run.record_output("checkpoint", ck)
    return ck
