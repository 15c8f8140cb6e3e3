"""PHADTF plugin entry module: options, stage hooks (thin), weights manifest (light imports only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Check, ModelInfo, Option, StageContext, hookimpl
from tfk_phadtf import __version__

_FACE_MODEL = Option(
    "face_model", Path, help="Deep3D front model BFM_model_front.mat (default: the imported BFM)", exists=True
)
_LM3D = Option("lm3d", Path, help="similarity_Lm3D_all.mat (default: the toolbox artifact)", exists=True)

_PREPROCESS = [
    Option(
        "input",
        Path,
        help="target video: one person, >= 16 s",
        required=True,
        exists=True,
        argument=True,
        metavar="VIDEO",
        media="video+audio",
    ),
    Option("max_frames", int, help="frames kept (the original uses 400)", default=400),
    Option("min_seconds", float, help="shortest clip accepted (the original needs 16 s)", default=16.0),
    Option("landmarks", str, help="landmark backend of tfk.face", default="dlib"),
    Option("max_missing", float, help="largest fraction of frames without a face (interpolated)", default=0.1),
    Option(
        "coeffs",
        str,
        help="257-d coefficients: Deep3D regressor, fitting substitute, or auto",
        default="auto",
        choices=("auto", "deep3d", "fit"),
    ),
    Option("fit_iters", int, help="landmark-fit iterations (fitting substitute)", default=600),
    Option("photo_iters", int, help="photometric-fit iterations (fitting substitute)", default=60),
    Option("arcface", str, help="ArcFace IResNet backbone.pth (path or artifact id; default phadtf/arcface_r100)"),
    _FACE_MODEL,
    _LM3D,
]
_TRAIN = [
    Option("stage", str, help="audio | gan (default: both, in order)", multiple=True),
    Option(
        "preset",
        str,
        help="paper = the original schedules; tiny = a smoke-size run",
        default="paper",
        choices=("paper", "tiny"),
    ),
    Option("resume", bool, help="resume from the last saved state", default=True),
    Option("atcnet", str, help="audio-network init (path or artifact id; default phadtf/atcnet_lstm_general)"),
    Option("net_g", str, help="generator init (default phadtf/net_g)"),
    Option("net_d", str, help="discriminator init (default phadtf/net_d)"),
    Option("net_mem", str, help="memory init (default phadtf/net_mem)"),
]
_INFER = [
    Option("audio", Path, help="driving speech (any format ffmpeg reads)", required=True, exists=True, media="audio"),
    Option("output", Path, help="output MP4 (default ./<uid>_<audio>_phadtf.mp4)", short="-o", output=True),
    Option(
        "pose",
        str,
        help="head pose: generated from audio, or the target video's own",
        default="generated",
        choices=("generated", "video"),
    ),
    Option("full_frame", bool, help="paste the face back into the full frame (the default)", default=True),
    Option("face_only", bool, help="write the 256x256 face crop instead of the full frame", default=False),
    Option("test_dropout", bool, help="keep dropout active at test time, as the original script", default=False),
    Option("atcnet", str, help="audio network (default: the subject's fine-tuned one)"),
    Option("net_g", str, help="generator (default: the subject's fine-tuned one)"),
    Option("net_mem", str, help="memory network (default: the subject's fine-tuned one)"),
    _FACE_MODEL,
]
_EVALUATE = [
    Option("atcnet", str, help="audio network (default: the subject's fine-tuned one)"),
    Option("net_g", str, help="generator (default: the subject's fine-tuned one)"),
    Option("net_mem", str, help="memory network (default: the subject's fine-tuned one)"),
    Option("sync", bool, help="also LSE-C/D (needs SyncNet weights)", default=True),
    _FACE_MODEL,
]


_DEMO = [
    Option("out", Path, help="directory for every demo file", default=Path("tfk-demo-phadtf")),
    Option("seconds", float, help="length of the built-in target clip", default=4.0),
    Option("video", Path, help="your own target clip (default: a built-in one)", exists=True, media="video+audio"),
    Option("audio", Path, help="your own driving speech (default: a built-in voice)", exists=True, media="audio"),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="PHADTF: audio -> personalised head pose + expression (3DMM), refined by a memory-augmented GAN",
        version=__version__,
        options={"preprocess": _PREPROCESS, "train": _TRAIN, "infer": _INFER, "evaluate": _EVALUATE, "demo": _DEMO},
        stage_help={
            "preprocess": "Prepare one target person (>= 16 s, 25 fps): frames, landmarks, 3DMM, renders, MFCC.",
            "train": "Personalise: fine-tune the audio network (--stage audio) and the memory GAN (--stage gan).",
            "infer": "Drive the target with new speech (frames = 25 x audio seconds).",
            "demo": "Every stage on built-in media with stand-ins (synthetic BFM, untrained tiny nets), offline.",
            "evaluate": "Re-generate the held-out part of the clip: HS (provisional), SSIM, PSNR, LMD, CPBD, LSE.",
        },
        subject_stages=("infer", "evaluate"),
        homepage="https://github.com/yiranran/Audio-driven-TalkingFace-HeadPose",
        paper="Audio-driven Talking Face Video Generation with Learning-based Personalized Head Pose (2020)",
    )


@hookimpl
def tfk_artifacts() -> list:
    from tfk_phadtf.artifacts import ARTIFACTS

    return list(ARTIFACTS)


def _check_bfm() -> tuple[str, str]:
    try:
        from tfk.tdmm.bfm import deep3d_model_path

        return "ok", f"Deep3D front model: {deep3d_model_path()}"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return "warn", f"BFM not imported ({type(exc).__name__}): PHADTF renders need it"


@hookimpl
def tfk_doctor_checks() -> list[Check]:
    return [Check("phadtf: BFM (Deep3D front model)", _check_bfm, hint="tfk weights import shared/bfm2009 FILE")]


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_phadtf.preprocess import preprocess

    return preprocess(ctx, options)


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_phadtf.train.runner import train_stage

    return train_stage(ctx, options)


@hookimpl
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_phadtf.infer import infer

    return infer(ctx, options)


@hookimpl
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_phadtf.evaluate import evaluate_stage

    return evaluate_stage(ctx, options)


@hookimpl
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_phadtf.demo import run_demo

    return run_demo(
        options["out"], options["seconds"], ctx.device, options.get("video"), options.get("audio"), ctx.progress
    )
