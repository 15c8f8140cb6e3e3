"""tfk — talking-face kit: one command line for five talking-face research models.

The core is light: importing ``tfk`` loads no torch, OpenCV or ffmpeg bindings.
"""

from tfk.errors import ExitCode, PluginUnavailable, TfkError

__version__ = "0.1.0"


def _load_declarations() -> None:
    """Load the registry (it hands every declared artifact to the weights store)."""
    from tfk.registry import load_registry

    load_registry()


def _wire() -> None:
    # the composition root: the weights store learns what is declared from the registry, never the reverse
    from tfk.weights import catalog

    catalog.set_loader(_load_declarations)


_wire()
__all__ = ["ExitCode", "PluginUnavailable", "TfkError", "__version__"]
