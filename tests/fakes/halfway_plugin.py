"""A plugin that implements only infer, declares an option per stage it has, and says it needs a GPU."""

from pathlib import Path

from tfk.plugin import ModelInfo, Option, hookimpl


@hookimpl
def tfk_model():
    return ModelInfo(
        summary="half a plugin",
        version="9.9.9",
        options={"infer": [Option("image", Path, "Source portrait.", required=True, exists=True)]},
    )


@hookimpl
def tfk_infer(ctx, options):
    return f"halfway saw {options['image']} on {ctx.device}"
