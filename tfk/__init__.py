"""tfk — talking-face kit: one command line for five talking-face research models.

The core is light: importing ``tfk`` loads no torch, OpenCV or ffmpeg bindings.
"""

from tfk.errors import ExitCode, PluginUnavailable, TfkError

__version__ = "0.1.0"
__all__ = ["ExitCode", "PluginUnavailable", "TfkError", "__version__"]
