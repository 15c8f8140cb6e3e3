"""tfk-ernerf: ER-NeRF (audio-driven tri-plane NeRF talking head) with the Avatar pipeline as a tfk plugin.

Stages: ``tfk train|infer|evaluate|demo ernerf``. The entry module is :mod:`tfk_ernerf.plugin`; everything
heavy lives in modules that it imports lazily.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfk-ernerf")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.1.0"
