"""StyleHEAT plugin entry module: model description, options, weights manifest and stage hooks (light imports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Check, ModelInfo, Option, StageContext, hookimpl
from tfk_styleheat import __version__

_INFER = [
    Option(
        "image", Path, help="source portrait (cross-identity, audio, edit and pose modes)", exists=True, media="image"
    ),
    Option("video", Path, help="driving video (alone: same-identity reenactment)", exists=True, media="video"),
    Option("audio", Path, help="driving speech (audio mode, with --image)", exists=True, media="audio"),
    Option("output", Path, help="output MP4 (default: ./<inputs>_styleheat_<mode>.mp4)", short="-o", output=True),
    Option(
        "edit",
        str,
        help="attribute edit of the source while driven by --video",
        choices=("young", "old", "beard", "lip"),
    ),
    Option("strength", float, help="edit strength (1.0 = the original's recommended factor)", default=1.0),
    Option("pose", str, help="intuitive edit, e.g. yaw=15,pitch=-5,roll=0,exp3=0.5 (degrees; with --image)"),
    Option("pose_frames", int, help="frames of the intuitive-edit sweep", default=50),
    Option(
        "inversion",
        str,
        help="HFGI encoder, or Barbershop FS optimisation (slow)",
        default="encode",
        choices=("encode", "optimize"),
    ),
    Option("optimize_steps", int, help="steps of --inversion optimize", default=250),
    Option("resolution", int, help="output size (512 or 1024)", default=1024),
    Option("align", bool, help="FFHQ-align the portrait / driving frames (--no-align: already aligned)", default=True),
    Option("batch_size", int, help="frames per generator batch", default=10),
    Option("frame_limit", int, help="render at most this many frames"),
    Option("expression_only", bool, help="keep the source's head pose; drive the expression only", default=False),
    Option("seed", int, help="seed of the audio mode's pose style and blinks", default=0),
    Option("pose_style", int, help="audio mode pose style 0..45 (default: drawn from --seed)"),
]
_PREPROCESS = [
    Option(
        "input",
        Path,
        help="directory of training clips (*.mp4)",
        required=True,
        exists=True,
        argument=True,
        metavar="VIDEO_DIR",
    ),
    Option(
        "stage",
        str,
        help="lmdb layout: vox (stage warper, 256) or hdtf (stage full, 512 + align)",
        default="both",
        choices=("vox", "hdtf", "both"),
    ),
    Option("test_fraction", float, help="share of clips listed in test_list.txt", default=0.1),
]
_TRAIN = [
    Option(
        "stage",
        str,
        help="warper (stage 1, Vox lmdb) or full (stage 2, calibrator, HDTF lmdb)",
        default="warper",
        choices=("warper", "full"),
    ),
    Option(
        "preset",
        str,
        help="paper = the original hyper-parameters; tiny = a smoke-size run",
        default="paper",
        choices=("paper", "tiny"),
    ),
    Option("iterations", int, help="stop after this many iterations (default: the preset's)"),
    Option("nproc_per_node", int, help="DDP processes (torchrun, gloo on CPU)", default=1),
    Option("resume", bool, help="resume from the run directory's latest checkpoint", default=True),
]
_EVALUATE = [
    Option(
        "video",
        Path,
        help="held-out clip: reconstructed from its first frame and its own motion",
        required=True,
        exists=True,
        media="video",
    ),
    Option("resolution", int, help="output size", default=512),
    Option("batch_size", int, help="frames per generator batch", default=10),
    Option("frame_limit", int, help="evaluate at most this many frames"),
    Option(
        "metrics",
        str,
        help="comma-separated tfk.metrics names, e.g. psnr,ssim,lpips,fid,lmd,cpbd,lse (default: psnr, ssim, lpips, "
        "lmd, cpbd where their weights are present)",
    ),
]


_DEMO = [
    Option("out", Path, help="directory for every demo file", default=Path("tfk-demo/styleheat")),
    Option("video", Path, help="your own driving clip (default: a built-in one)", exists=True, media="video"),
    Option(
        "audio", Path, help="your own speech for the audio mode (default: a built-in voice)", exists=True, media="audio"
    ),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="StyleHEAT: one portrait + driving video, audio or edit -> high-resolution talking video",
        version=__version__,
        options={"infer": _INFER, "preprocess": _PREPROCESS, "train": _TRAIN, "evaluate": _EVALUATE, "demo": _DEMO},
        stage_help={
            "infer": "Cross/same-identity reenactment, audio-driven, attribute and pose edits (1024² StyleGAN).",
            "preprocess": "Build the original lmdb layouts (Vox 256 for the warper, HDTF 512 + aligned for stage 2).",
            "train": "Stage warper (VideoWarper, perceptual) or stage full (calibrator, GAN + perceptual + local).",
            "evaluate": "Same-identity reconstruction metrics through tfk.metrics.",
        },
        homepage="https://github.com/OpenTalker/StyleHEAT",
        paper="StyleHEAT: One-Shot High-Resolution Editable Talking Face Generation via Pre-trained StyleGAN "
        "(ECCV 2022)",
        supports_ddp=True,
    )


@hookimpl
def tfk_artifacts() -> list:
    from tfk_styleheat.artifacts import ARTIFACTS

    return list(ARTIFACTS)


def _check_weights() -> tuple[str, str]:
    from tfk.weights import find
    from tfk_styleheat.artifacts import ARTIFACTS, INFERENCE

    missing = [a.id for a in ARTIFACTS if a.id in INFERENCE and find(a) is None]
    if missing:
        return "warn", "missing for inference: " + ", ".join(missing)
    return "ok", "StyleGAN, e4e, HFGI and StyleHEAT weights present"


@hookimpl
def tfk_doctor_checks() -> list[Check]:
    return [Check("styleheat: weights", _check_weights, hint="tfk weights pull styleheat")]


@hookimpl
def tfk_infer(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_styleheat.infer import cache_root, infer

    out = infer(
        image=options["image"],
        video=options["video"],
        audio=options["audio"],
        output=options["output"],
        edit=options["edit"],
        strength=options["strength"],
        pose=options["pose"],
        pose_frames=options["pose_frames"],
        inversion=options["inversion"],
        optimize_steps=options["optimize_steps"],
        resolution=options["resolution"],
        align=options["align"],
        batch_size=options["batch_size"],
        frame_limit=options["frame_limit"],
        expression_only=options["expression_only"],
        seed=options["seed"],
        pose_style=options["pose_style"],
        device=ctx.device,
        require=ctx.require,
        cache_dir=cache_root(ctx.home),
        progress=ctx.progress,
    )
    if ctx.run is not None:
        ctx.run.record_output("video", out)
    return out


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_styleheat.preprocess import preprocess_stage

    return preprocess_stage(ctx, options)


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_styleheat.train import train_stage

    return train_stage(ctx, options)


@hookimpl
def tfk_evaluate(ctx: StageContext, options: dict[str, Any]) -> Any:
    from tfk_styleheat.evaluate import evaluate_stage

    return evaluate_stage(ctx, options)


@hookimpl
def tfk_demo(ctx: StageContext, options: dict[str, Any]) -> Any:
    """``tfk demo styleheat`` (the core gains the verb in parallel; harmless until then)."""
    from tfk_styleheat.demo import tfk_demo as run

    return run(ctx, options)
