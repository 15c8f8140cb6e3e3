"""``tfk preprocess dfrf VIDEO --uid NAME``: the AD-NeRF preprocessing into DFRF's data layout.

The steps are the shared ones of :mod:`tfk.nerfprep`, in DFRF's conventions: the identity folder ``0/``,
``com_imgs``/``head_imgs``/3-channel ``torso_imgs/*.jpg``, DeepSpeech ``aud.npy`` ``[N,16,29]``, the 1/2 split,
focal fixed at 1300, ``config.txt`` (near/far from the tracked poses). DFRF's default reference frames are training
frames 50, 100, 150 and 200, so a clip under about 16 s is refused with a clear error unless
``--references i,j,k,l`` names four training frames; they are recorded in ``model_data.json``.
Light at import: only the option declarations are built here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.nerfprep.options import preprocess_options

__all__ = ["OPTIONS", "run"]

OPTIONS = preprocess_options("dfrf")


def run(ctx, options: dict[str, Any]) -> Path:
    """Run (or resume) the preprocessing of ``options["input"]`` in ``ctx.workspace``; return the ``0/`` folder."""
    from tfk.nerfprep.options import run_stage

    return run_stage("dfrf", ctx, options)
