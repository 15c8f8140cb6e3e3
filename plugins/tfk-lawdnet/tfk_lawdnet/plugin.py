"""The tfk entry module of the LawDNet plugin: hook implementations only, light imports.

Every stage imports its implementation module inside the hook, so ``tfk models`` never loads torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Check, ModelInfo, Option, StageContext, hookimpl
from tfk_lawdnet import __version__

_CKPT_HELP = (
    "generator checkpoint: an artifact id (lawdnet/checkpoint_epoch_170 [default, DP2], "
    "lawdnet/checkpoint_epoch_120 [DP1]), a short name (170, 120) or a .pth/.safetensors file"
)


def _even(value: int) -> int:
    if value % 2:
        raise ValueError(f"must be even, got {value}")
    return value


def _video_out(value: Path) -> Path:
    if value.suffix.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        raise ValueError(f"{value} must end in .mp4 (or .mov/.mkv/.m4v)")
    return value


_FRONTEND = Option(
    "audio_frontend",
    str,
    help="audio features the checkpoint expects (only needed for a file that does not record it)",
    choices=("dp1", "dp2"),
)
_CHECKPOINT = Option("checkpoint", str, help=_CKPT_HELP)
_BATCH = Option("batch_size", int, help="frames per generator batch (default: 1 on a CPU, 20 on a GPU)", min=1)
_FACE = Option(
    "face", str, help="template with several faces: largest (default), left, right, or an index from the left"
)
_MOUTH = Option("mouth_size", int, help="mouth region size the checkpoint was trained at (default: recorded, else 288)",
                min=16, validator=_even)  # fmt: skip
_GRID = Option("grid_size", int, help="LAW control grid (default: recorded, else 60)", min=2)
_LANDMARKS = Option("landmarks", str, help="landmark backend of tfk.face", default="dlib")
_SMOOTH = Option("smooth", float, help="temporal landmark smoothing (Gaussian sigma in frames; 0 = off)", default=1.0,
                 min=0.0)  # fmt: skip

_INFER = [
    Option(
        "video",
        Path,
        help="template video (any fps; re-timed to 25 fps)",
        required=True,
        exists=True,
        media="video",
        decode=False,  # the template's landmark pass checks that it decodes to its declared length
    ),
    Option("audio", Path, help="driving audio (any format ffmpeg reads)", required=True, exists=True, media="audio"),
    Option(
        "output",
        Path,
        help="output MP4 (default: ./<video>_<audio>_lawdnet.mp4)",
        short="-o",
        output=True,
        validator=_video_out,
    ),
    _CHECKPOINT,
    _FRONTEND,
    _BATCH,
    Option("seed", int, help="seed of the reference-frame choice", default=456, min=0),
    _MOUTH,
    _GRID,
    _LANDMARKS,
    _SMOOTH,
    _FACE,
    Option(
        "precision",
        str,
        help="CPU only: bf16 autocast (faster on CPUs with bf16 units; kept only while >= 40 dB PSNR from fp32)",
        default="fp32",
        choices=("fp32", "bf16"),
    ),
]

_PREPROCESS = [
    Option(
        "input",
        Path,
        help="a video, or a directory of clips (a dataset)",
        required=True,
        exists=True,
        argument=True,
        metavar="VIDEO_OR_DIR",
    ),
    Option("features", str, help="audio features to extract", default="dp2", choices=("dp1", "dp2", "both")),
    Option(
        "resolution", int, help="stored crop width (the stages resize from it)", default=360, min=64, validator=_even
    ),
    _LANDMARKS,
    _SMOOTH,
]

_TRAIN = [
    Option("stage", str, help="train one stage (default: every stage in order)", multiple=True),
    Option(
        "preset",
        str,
        help="tiny = a fast smoke-size run; paper = the published schedule",
        default="paper",
        choices=("tiny", "paper"),
    ),
    Option("nproc_per_node", int, help="processes (GPUs) for DDP", default=1, min=1),
    Option("resume", bool, help="resume from the last checkpoint of the run directory", default=True),
    Option("out", Path, help="output directory for checkpoints (default: <workspace>/train/<preset>)"),
    Option("steps", int, help="steps per epoch (default: the preset's)", min=1),
    Option("lr", float, help="generator learning rate (default: the preset's)", min=1e-8, max=1.0),
    Option(
        "losses",
        str,
        help="all = the preset's losses; pixel = MSE only (fast fitting of one subject, as in tfk demo)",
        default="all",
        choices=("all", "pixel"),
    ),
]

_EVALUATE = [
    Option(
        "video", Path, help="held-out clip (video with its own audio)", required=True, exists=True, media="video+audio"
    ),
    _CHECKPOINT,
    _FRONTEND,
    _BATCH,
    _MOUTH,
    _GRID,
    Option("sync", bool, help="also compute LSE-C / LSE-D (needs SyncNet weights)", default=True),
]

_SERVE = [
    Option(
        "template",
        Path,
        help="template video, preprocessed once at start-up",
        required=True,
        exists=True,
        media="video",
        decode=False,
    ),
    _CHECKPOINT,
    _FRONTEND,
    Option("host", str, help="bind address (loopback by default)", default="127.0.0.1"),
    Option("port", int, help="TCP port (0: any free port, printed at start-up)", default=5828, min=0, max=65535),
    _BATCH,
    Option("max_upload_mb", int, help="largest accepted upload", default=50, min=1),
    _MOUTH,
    _GRID,
    _FACE,
]

_DEMO = [
    Option("out", Path, help="directory for every demo file", default=Path("tfk-demo")),
    Option("seconds", float, help="length of the built-in template clip", default=4.0, min=1.0, max=60.0),
    Option("video", Path, help="your own template (default: a built-in clip)", exists=True, media="video"),
    Option("audio", Path, help="your own driving audio (default: a built-in voice)", exists=True, media="audio"),
    Option("train_steps", int, help="training steps per epoch of the tiny model (2 epochs)", default=150, min=1),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="LawDNet lip-sync: re-voice a template video (local affine warping, DINet family)",
        version=__version__,
        options={
            "infer": _INFER,
            "preprocess": _PREPROCESS,
            "train": _TRAIN,
            "evaluate": _EVALUATE,
            "serve": _SERVE,
            "demo": _DEMO,
        },
        stage_help={
            "infer": "Dub a template video with new audio (output frames = 25 x audio duration).",
            "preprocess": "Build a LawDNet training set (25 fps, landmarks, DeepSpeech features, LMDB crops).",
            "train": "Coarse-to-fine LawDNet training on a preprocessed subject.",
            "evaluate": "Reconstruct a held-out clip from its own audio: PSNR, SSIM, LPIPS, LMD, LSE-C/D.",
            "serve": "HTTP service: POST an audio file, get the dubbed MP4 of a fixed template.",
            "demo": "Preprocess, train the tiny preset and dub, on built-in media, offline (a few minutes on CPU).",
        },
        homepage="https://github.com/iPaw-AI-LAB/LawDNet_2024",
        paper="LawDNet: Enhanced Audio-Driven Lip Synthesis via Local Affine Warping Deformation",
        supports_ddp=True,
    )


@hookimpl
def tfk_artifacts() -> list:
    from tfk_lawdnet.artifacts import ARTIFACTS

    return list(ARTIFACTS)


def _check_torch() -> tuple[str, str]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "error", "torch is not installed"
    import torch

    cuda = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)" if torch.cuda.is_available() else "CPU only"
    return "ok", f"torch {torch.__version__} ({cuda})"


def _check_checkpoint() -> tuple[str, str]:
    from tfk.weights import find
    from tfk_lawdnet.artifacts import ARTIFACTS, CHECKPOINT_FRONTEND

    present = [a.id for a in ARTIFACTS if a.id in CHECKPOINT_FRONTEND and find(a) is not None]
    if present:
        return "ok", "generator checkpoint(s): " + ", ".join(present)
    return "warn", "no LawDNet checkpoint imported (infer needs one; see `tfk weights pull lawdnet`)"


def _check_dp1() -> tuple[str, str]:
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return (
            "warn",
            "TensorFlow not installed: DP1 features (checkpoint 120) unavailable; pip install tfk-lawdnet[dp1]",
        )
    return "ok", "TensorFlow present (DP1 DeepSpeech v0.1.0 features available)"


@hookimpl
def tfk_doctor_checks() -> list[Check]:
    return [
        Check("lawdnet: torch", _check_torch, hint="pip install torch==2.13.0"),
        Check("lawdnet: generator checkpoint", _check_checkpoint, hint="tfk weights pull lawdnet"),
        Check("lawdnet: DP1 front-end", _check_dp1, hint="pip install 'tfk-lawdnet[dp1]'"),
    ]


@hookimpl
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.infer import infer_stage

    return infer_stage(ctx, options)


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.preprocess import preprocess

    return preprocess(ctx, options)


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.train import train_stage

    return train_stage(ctx, options)


@hookimpl
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.evaluate import evaluate_stage

    return evaluate_stage(ctx, options)


@hookimpl
def tfk_serve(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.serve import serve

    return serve(
        template=options["template"],
        checkpoint=options["checkpoint"],
        device=ctx.device,
        host=options["host"],
        port=options["port"],
        batch_size=options["batch_size"],
        max_upload_mb=options["max_upload_mb"],
        audio_frontend=options["audio_frontend"],
        mouth=options["mouth_size"],
        grid_size=options["grid_size"],
        require=ctx.require,
        progress=ctx.progress,
        face=options["face"],
    )


@hookimpl
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_lawdnet.demo import run_demo

    return run_demo(
        options["out"],
        options["seconds"],
        ctx.device,
        options["video"],
        options["audio"],
        progress=ctx.progress,
        train_steps=options["train_steps"],
    )
