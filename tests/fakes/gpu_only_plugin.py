"""A plugin that says at load time that it cannot run here."""

from tfk.plugin import ModelInfo, hookimpl


@hookimpl
def tfk_model():
    return ModelInfo(summary="needs a GPU", version="1.0")


@hookimpl
def tfk_available():
    return "needs a CUDA GPU (none found)"


@hookimpl
def tfk_infer(ctx, options):
    raise AssertionError("must never be called")
