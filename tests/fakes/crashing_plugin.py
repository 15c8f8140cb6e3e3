"""A plugin whose infer raises a non-tfk exception, and whose declarations raise on demand."""

from tfk.plugin import ModelInfo, hookimpl


@hookimpl
def tfk_model():
    return ModelInfo(summary="crashes", version="0.0.1")


@hookimpl
def tfk_infer(ctx, options):
    raise ZeroDivisionError("plugin bug")
