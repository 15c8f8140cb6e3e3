"""tfk-ernerf: ER-NeRF (audio-driven tri-plane NeRF talking head) with the Avatar pipeline as a tfk plugin.

Stages: ``tfk train|infer|evaluate|demo ernerf``. The entry module is :mod:`tfk_ernerf.plugin`; everything
heavy lives in modules that it imports lazily.
"""

from tfk.plugin import package_version

__version__ = package_version("tfk-ernerf")
