"""Command-line options of ``tfk preprocess ernerf|dfrf`` and their mapping onto :class:`PrepConfig`.

Light module (standard library and :mod:`tfk.plugin` only): the plugins' entry modules import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfk.plugin import Option


def preprocess_options(layout: str) -> list[Option]:
    """The ``preprocess`` options of the ER-NeRF (``"ernerf"``) or DFRF (``"dfrf"``) plugin, typed, with defaults."""
    opts = [
        Option(
            "input",
            Path,
            help="talking-head video (any resolution, one person, continuous shot)",
            required=True,
            exists=True,
            media="video+audio",
            argument=True,
            metavar="VIDEO",
        ),
        Option("max_seconds", float, help="use only the first N seconds (the Avatar caps at 600)"),
        Option(
            "matting",
            str,
            help="matte the person and replace the background (RVM MobileNetV3)",
            default="rvm",
            choices=("rvm", "none"),
        ),
        Option("matting_weights", Path, help="an rvm_mobilenetv3.pth file (default: the weights store)", exists=True),
        Option(
            "background",
            str,
            help="colour behind the matted person: R,G,B or gray/green/white/black/blue",
            default="gray",
        ),
        Option("head_size", int, help="side of the square head video and frames", default=512),
        Option(
            "head_crop",
            str,
            help="auto: the Avatar square head box (a head crop is kept as is); none: whole frame",
            default="auto",
            choices=("auto", "none"),
        ),
    ]
    if layout == "ernerf":
        opts.append(
            Option(
                "audio_features",
                str,
                help="audio front-end (DeepSpeech v0.1 as ER-NeRF, HuBERT, wav2vec2 esperanto)",
                default="deepspeech",
                choices=("deepspeech", "hubert", "wav2vec"),
            )
        )
    opts += [
        Option(
            "audio_model",
            Path,
            help="a local DeepSpeech graph (.pb) or Hugging Face model folder (default: the weights store)",
            exists=True,
        ),
        Option("landmarks", str, help="landmark backend of tfk.face", default="dlib"),
        Option(
            "parsing",
            str,
            help="face parsing: BiSeNet when its weights are present (auto), or the labelled landmark fallback",
            default="auto",
            choices=("auto", "bisenet", "fallback"),
        ),
    ]
    if layout == "ernerf":
        opts.append(
            Option(
                "blinks",
                str,
                help="blink AU45: OpenFace FeatureExtraction when on PATH (auto), or the "
                "landmark eye-aspect-ratio estimate",
                default="auto",
                choices=("auto", "openface", "ear"),
            )
        )
    opts += [
        Option(
            "tracking",
            str,
            help="BFM tracking: full (with the photometric stages, as the original) or landmarks only",
            default="full",
            choices=("full", "landmarks"),
        ),
        Option(
            "track_preset",
            str,
            help="tracker iterations: paper (the original's), fast, tiny (tests/demos)",
            default="paper",
            choices=("paper", "fast", "tiny"),
        ),
        Option(
            "focal",
            float,
            help="fixed focal length in pixels (default: "
            + ("1300, as DFRF)" if layout == "dfrf" else "the original focal search)"),
            default=1300.0 if layout == "dfrf" else None,
        ),
        Option(
            "bfm", Path, help="an adnerf_3dmm.npz 3DMM file (default: derived from the imported BFM 2009)", exists=True
        ),
    ]
    if layout == "dfrf":
        opts.append(
            Option(
                "references",
                str,
                help="DFRF reference frames: auto (training frames 50,100,150,200; "
                "needs about 16 s) or four training-frame indices i,j,k,l",
                default="auto",
            )
        )
    return opts


def config_from_options(layout: str, options: dict[str, Any], device: str = "cpu"):
    """A :class:`~tfk.nerfprep.config.PrepConfig` from the ``preprocess`` options dict (keyed by ``Option.dest``)."""
    from tfk.nerfprep.config import PrepConfig, parse_references, parse_rgb

    def path(key: str) -> Path | None:
        v = options.get(key)
        return Path(v) if v else None

    over: dict[str, Any] = {
        "max_seconds": options.get("max_seconds"),
        "matting": options.get("matting"),
        "matting_weights": path("matting_weights"),
        "background": parse_rgb(options.get("background")),
        "head_size": options.get("head_size"),
        "head_crop": options.get("head_crop"),
        "audio_features": options.get("audio_features"),
        "audio_model": path("audio_model"),
        "landmarks": options.get("landmarks"),
        "parsing": options.get("parsing"),
        "blinks": options.get("blinks"),
        "tracking": options.get("tracking"),
        "track_preset": options.get("track_preset"),
        "focal": options.get("focal"),
        "bfm": path("bfm"),
        "references": parse_references(options.get("references")),
        "device": device,
    }
    return PrepConfig.for_model(layout, **over)


def run_stage(layout: str, ctx, options: dict[str, Any]) -> Path:
    """The body of a plugin's ``tfk_preprocess``: run the pipeline in ``ctx.workspace``; return the subject folder."""
    from tfk.errors import UsageError
    from tfk.nerfprep.run import preprocess

    if ctx.workspace is None:
        raise UsageError(f"preprocess {layout} needs --uid (or --workspace)")
    cfg = config_from_options(layout, options, getattr(ctx, "device", "cpu") or "cpu")
    out, _ = preprocess(
        ctx.workspace,
        Path(options["input"]),
        cfg,
        force=bool(getattr(ctx, "force", False)),
        from_step=getattr(ctx, "from_step", None),
        until_step=getattr(ctx, "until_step", None),
        progress=getattr(ctx, "progress", None),
        logger=ctx.log if hasattr(ctx, "log") else None,
    )
    result = out if out is not None else ctx.workspace.root
    if getattr(ctx, "run", None) is not None and out is not None:
        ctx.run.record_output("data", out)
    return result
