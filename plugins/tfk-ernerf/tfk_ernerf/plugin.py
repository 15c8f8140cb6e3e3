"""ER-NeRF plugin entry module: hook implementations only, light imports (stage code loads inside the hooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Check, ModelInfo, Option, StageContext, hookimpl
from tfk_ernerf import __version__
from tfk_ernerf.preprocess import OPTIONS as PREPROCESS_OPTIONS

_TRAIN = [
    Option(
        "stage",
        str,
        help="train one stage (default: head, lips, torso in order; each resumes where it stopped)",
        multiple=True,
    ),
    Option(
        "preset",
        str,
        help="paper = the published schedule, fast = a quicker usable model, tiny = a CPU smoke run",
        default="paper",
        choices=("paper", "fast", "tiny"),
    ),
    Option("resume", bool, help="resume from the last epoch checkpoint", default=True),
    Option(
        "audio_features",
        str,
        help="audio features to train on (default: the ones preprocessing wrote)",
        choices=("deepspeech", "hubert", "wav2vec"),
    ),
]

_INFER = [
    Option("audio", Path, help="driving audio (any format ffmpeg reads)", required=True, exists=True, media="audio"),
    Option("output", Path, help="output MP4 (default: ./<uid>_<audio>_ernerf.mp4)", short="-o", output=True),
    Option(
        "merge",
        str,
        help="paste-back into the original frames: head box, face pixels, face + neck, or none (crop only)",
        default="bbox",
        choices=("bbox", "face", "face-neck", "none"),
    ),
    Option("background", str, help="solid background colour R,G,B instead of the recorded one"),
    Option("alpha", bool, help="also write the matte as <output>.alpha.mp4", default=False),
    Option("torso", bool, help="use the torso model when one is trained", default=True),
    Option(
        "audio_model",
        Path,
        help="a local DeepSpeech graph (.pb) or Hugging Face model folder for the model's audio front-end "
        "(default: the weights store)",
        exists=True,
    ),
]

_EVALUATE = [
    Option("max_frames", int, help="score only the first N val frames"),
    Option("torso", bool, help="evaluate the torso model when one is trained", default=True),
    Option("sync", bool, help="also compute LSE-C / LSE-D (needs SyncNet weights)", default=True),
]


_DEMO = [
    Option("out", Path, help="directory for every demo file", default=Path("ernerf-demo")),
    Option("steps", int, help="head training steps (lips and torso get a quarter each)", default=1000, min=1),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="ER-NeRF: person-specific audio-driven NeRF talking head (tri-plane hash grids)",
        version=__version__,
        options={
            "preprocess": PREPROCESS_OPTIONS,
            "train": _TRAIN,
            "infer": _INFER,
            "evaluate": _EVALUATE,
            "demo": _DEMO,
        },
        stage_help={
            "train": "Train the subject's head, lips and torso stages (tfk preprocess ernerf first).",
            "infer": "Drive a trained subject with any audio (frames = 25 x audio seconds).",
            "evaluate": "Render the val split and score it: PSNR, SSIM, LPIPS, LMD, LSE-C/D.",
        },
        subject_stages=("infer", "evaluate"),
        homepage="https://github.com/Fictionarry/ER-NeRF",
        paper="Efficient Region-Aware Neural Radiance Fields for High-Fidelity Talking Portrait Synthesis (ICCV 2023)",
    )


@hookimpl
def tfk_artifacts() -> list:
    from tfk_ernerf.artifacts import ARTIFACTS

    return list(ARTIFACTS)


def _check_torch() -> tuple[str, str]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "error", "torch is not installed"
    import torch

    cuda = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)" if torch.cuda.is_available() else "CPU only"
    return "ok", f"torch {torch.__version__} ({cuda})"


@hookimpl
def tfk_doctor_checks() -> list[Check]:
    return [Check("ernerf: torch", _check_torch, hint="pip install torch==2.13.0")]


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_ernerf.preprocess import run

    return run(ctx, options)


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_ernerf.train.runner import train_stage

    return train_stage(ctx, ctx.workspace, options)


def _find(ctx: StageContext, artifact_id: str) -> Path | None:
    """The caller's file for ``artifact_id`` (``ctx.weights``), else the store's (never downloads); recorded."""
    from tfk.weights import find

    path = ctx.weights.get(artifact_id) or find(artifact_id)
    if path is not None and ctx.run is not None:
        ctx.run.record_artifact(artifact_id, path)
    return path


@hookimpl
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_ernerf.infer import infer

    ws = ctx.workspace
    out = infer(
        ws.root,
        ws.uid,
        options["audio"],
        options["output"],
        merge=options["merge"],
        background=options["background"],
        alpha=options["alpha"],
        torso=options["torso"],
        device=ctx.device,
        find=lambda artifact_id: _find(ctx, artifact_id),
        progress=ctx.progress,
        audio_model=options["audio_model"],
    )
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    return out


@hookimpl
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_ernerf.evaluate import evaluate

    ws = ctx.workspace
    out_dir = ctx.run.dir if ctx.run is not None else ws.root / "evaluate"
    result = evaluate(
        ws.root,
        ws.uid,
        out_dir,
        device=ctx.device,
        max_frames=options["max_frames"],
        torso=options["torso"],
        sync=options["sync"],
        progress=ctx.progress,
    )
    if ctx.run is not None:
        ctx.run.record_output("metrics", out_dir / "metrics.json")
    return result


@hookimpl
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_ernerf.demo import demo

    return demo(ctx, options)
