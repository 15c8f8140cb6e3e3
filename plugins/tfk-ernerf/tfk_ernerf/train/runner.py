"""``tfk train ernerf``: run the requested stages in order on the subject's workspace."""

from __future__ import annotations

import logging
from typing import Any

from tfk.errors import InputNotFound, UsageError
from tfk.plugin import StageContext
from tfk.workspace import Workspace
from tfk_ernerf.data import find_subject_dir
from tfk_ernerf.infer import train_root
from tfk_ernerf.train.config import STAGES, preset
from tfk_ernerf.train.trainer import StageResult, run_stage

log = logging.getLogger("tfk.ernerf.train")


def _lpips_or_none(device: str):
    """``(LPIPS-alex from the store, None)`` for the lips stage, or ``(None, reason)`` (the term is left out)."""
    from tfk.errors import MissingWeights

    try:
        from tfk.metrics.lpips import load_lpips

        return load_lpips("alex", device=device, download=False), None
    except (MissingWeights, ImportError) as exc:
        note = (
            f"lips stage ran without its LPIPS term: LPIPS-alex weights unavailable ({exc}); tfk weights pull metrics"
        )
        log.warning(note)
        return None, note


def train_stages(
    ws: Workspace,
    stages: list[str] | tuple[str, ...] | None,
    preset_name: str = "paper",
    device: str = "cpu",
    resume: bool = True,
    frontend: str | None = None,
    progress: Any = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, StageResult]:
    order = [s for s in STAGES if not stages or s in stages]
    bad = [s for s in (stages or ()) if s not in STAGES]
    if bad:
        raise UsageError(f"unknown stage {bad[0]!r} (choose from {', '.join(STAGES)})")
    data_dir = find_subject_dir(ws.root)
    if data_dir is None:
        raise InputNotFound(
            f"--uid {ws.uid} has no preprocessed data (transforms_train.json)",
            hint=f"tfk preprocess ernerf VIDEO --uid {ws.uid}",
        )
    cfg = preset(preset_name, **(overrides or {}))
    out: dict[str, StageResult] = {}
    for stage in order:
        lp, note = _lpips_or_none(device) if stage == "lips" else (None, None)
        out[stage] = run_stage(data_dir, train_root(ws.root), stage, cfg, device, resume, frontend, lp, progress)
        out[stage].note = note
        log.info("%s stage: step %d, val PSNR %s", stage, out[stage].global_step, out[stage].psnr)
    return out


def train_stage(ctx: StageContext, ws: Workspace, options: dict[str, Any]) -> dict[str, Any]:
    """The ``tfk_train`` hook body."""
    res = train_stages(
        ws,
        list(options["stage"] or ()),
        options["preset"],
        ctx.device,
        bool(options["resume"]),
        options["audio_features"],
        ctx.progress,
    )
    summary = {
        s: {
            "checkpoint": str(r.best),
            "global_step": r.global_step,
            "psnr": r.psnr,
            "steps_per_s": r.steps_per_s,
            **({"note": r.note} if r.note else {}),
        }
        for s, r in res.items()
    }
    if ctx.run is not None:
        for s, r in res.items():
            ctx.run.record_output(f"{s}_checkpoint", r.best)
            ctx.run.timing(f"train_{s}", r.seconds)
    return summary
