"""DFRF plugin entry module: model description, options and thin stage hooks (light imports only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Check, ModelInfo, Option, StageContext, hookimpl
from tfk_dfrf import __version__
from tfk_dfrf.preprocess import OPTIONS as PREPROCESS_OPTIONS

_QUALITY = Option(
    "quality",
    str,
    help="exact = the original 32+96 samples; fast = measured approximations",
    default="exact",
    choices=("exact", "fast"),
)
_REFS = Option(
    "references", str, help="reference frames: auto (training frames 50,100,150,200) or i,j,k,l", default="auto"
)
_SEED = Option("seed", int, help="seed of the slot-attention noise (per frame)", default=0)
_NOISE = Option(
    "noise", bool, help="draw slot-attention noise like the original (seeded); off = deterministic", default=True
)
_CHUNK = Option(
    "chunk", int, help="rays per batch (0 = auto: 256 on a CPU, 4096 on a GPU; any value)", default=0, min=0
)
_CKPT = Option("checkpoint", Path, help="a *_head.tar (default: the newest of the subject's fine-tune)", exists=True)

_TRAIN = [
    Option("steps", int, help="iterations (fine-tune: added to the base model's step)"),
    Option(
        "from",
        str,
        help="fine-tune from the base model or train from scratch",
        default="base",
        choices=("base", "scratch"),
    ),
    Option(
        "preset",
        str,
        help="paper = original settings; fast; tiny = smoke-size",
        default="paper",
        choices=("paper", "fast", "tiny"),
    ),
    Option(
        "base",
        bool,
        help="train a new base model (from scratch) on the subjects of --uid a,b,c (one is allowed too)",
        default=False,
    ),
    Option(
        "base_checkpoint",
        Path,
        help="base model to fine-tune from (default: the dfrf/base_model artifact)",
        exists=True,
    ),
    Option(
        "smooth",
        str,
        help="audio smoothing (AudAttNet): auto = from step 100k as the original",
        default="auto",
        choices=("auto", "on", "off"),
    ),
    Option("nproc_per_node", int, help="processes (GPUs) for DDP base training", default=1),
    Option("resume", bool, help="resume from the newest checkpoint of the run", default=True),
    Option(
        "out",
        Path,
        help="checkpoint directory (default: the subject's; --base: TFK_HOME/models/dfrf/base/<a+b+c>)",
    ),
]

_INFER = [
    Option("audio", Path, help="driving audio (any format ffmpeg reads)", required=True, exists=True, media="audio"),
    Option("output", Path, help="output MP4 (default: ./<uid>_<audio>_dfrf.mp4)", short="-o", output=True),
    Option("features", Path, help="precomputed DeepSpeech windows .npy [N,16,29] for the audio", exists=True),
    _CKPT,
    _QUALITY,
    _REFS,
    _SEED,
    _NOISE,
    _CHUNK,
]

_EVALUATE = [
    _CKPT,
    _QUALITY,
    _REFS,
    _SEED,
    _NOISE,
    _CHUNK,
    Option("max_frames", int, help="score only the first N val frames (a quick look)"),
]


_DEMO = [
    Option("out", Path, help="directory for every demo file (default: TFK_HOME/demo/dfrf)"),
    Option("steps", int, help="training steps of the tiny model", default=300, min=1),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="DFRF: few-shot audio-driven NeRF talking head (fine-tunes a base model on ~15 s of video)",
        version=__version__,
        options={
            "preprocess": PREPROCESS_OPTIONS,
            "train": _TRAIN,
            "infer": _INFER,
            "evaluate": _EVALUATE,
            "demo": _DEMO,
        },
        stage_help={
            "train": "Fine-tune the base model on a subject (or from scratch; a new base model: --uid a,b,c --base).",
            "infer": "Render a talking head for any audio (frames = 25 x audio seconds) into an MP4 with the audio.",
            "evaluate": "Render the val split and score PSNR, SSIM, LPIPS, LMD against the ground truth.",
        },
        subject_stages=("infer", "evaluate"),
        multi_uid_stages={"train": "base"},
        homepage="https://github.com/sstzal/DFRF",
        paper="Learning Dynamic Facial Radiance Fields for Few-Shot Talking Head Synthesis (ECCV 2022)",
        supports_ddp=True,
    )


@hookimpl
def tfk_artifacts() -> list:
    from tfk_dfrf.artifacts import ARTIFACTS

    return list(ARTIFACTS)


def _check_base() -> tuple[str, str]:
    from tfk.weights import find
    from tfk_dfrf.artifacts import ARTIFACTS

    if find(ARTIFACTS[0]) is not None:
        return "ok", "DFRF base model present"
    return "warn", "DFRF base model not imported (fine-tuning needs it; --from scratch does not)"


@hookimpl
def tfk_doctor_checks() -> list[Check]:
    return [Check("dfrf: base model", _check_base, hint="tfk weights pull dfrf")]


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_dfrf.preprocess import run

    return run(ctx, options)


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_dfrf.train.runner import train_stage

    return train_stage(ctx, options)


@hookimpl
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_dfrf.infer import infer, latest_checkpoint

    ws = ctx.workspace
    audio = Path(options["audio"])
    output = options["output"] or Path.cwd() / f"{ws.uid}_{audio.stem}_dfrf.mp4"
    out = infer(
        ws.root,
        options["checkpoint"] or latest_checkpoint(ws.root),
        audio,
        output,
        quality=options["quality"],
        references=options["references"],
        seed=options["seed"],
        noise=options["noise"],
        chunk=options["chunk"],
        device=ctx.device,
        features=options["features"],
        require=ctx.require,
        progress=ctx.progress,
    )
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    return out


@hookimpl
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_dfrf.evaluate import evaluate
    from tfk_dfrf.infer import latest_checkpoint

    ws = ctx.workspace
    out_dir = ctx.run.dir if ctx.run is not None else None
    return evaluate(
        ws.root,
        options["checkpoint"] or latest_checkpoint(ws.root),
        quality=options["quality"],
        references=options["references"],
        seed=options["seed"],
        noise=options["noise"],
        chunk=options["chunk"],
        device=ctx.device,
        max_frames=options["max_frames"],
        out_dir=out_dir,
    )


@hookimpl
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_dfrf.demo import run_demo

    return run_demo(ctx, options)
