"""``tfk preprocess ernerf VIDEO --uid NAME``: the Avatar ER-NeRF preprocessing into ER-NeRF's data layout.

The steps are the shared ones of :mod:`tfk.nerfprep` (normalise, RVM matting, head region, 512² head video,
16 kHz audio, DeepSpeech/HuBERT/wav2vec features, frames, landmarks, parsing, ``bc.jpg``, ``gt_imgs``/RGBA
``torso_imgs``, blinks ``au.csv``, BFM tracking, transforms json with the 10/11 split, ``model_data.json``); the
data folder is :func:`tfk.nerfprep.subject_dir` of the workspace (layout in :mod:`tfk.nerfprep.layout`).
Light at import: only the option declarations are built here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.nerfprep.options import preprocess_options

__all__ = ["OPTIONS", "run"]

OPTIONS = preprocess_options("ernerf")


def run(ctx, options: dict[str, Any]) -> Path:
    """Run (or resume) the preprocessing of ``options["input"]`` in ``ctx.workspace``; return the data folder."""
    from tfk.nerfprep.options import run_stage

    return run_stage("ernerf", ctx, options)
