"""tfk plugin for DFRF: few-shot audio-driven NeRF talking head."""

from tfk.plugin import package_version

__version__ = package_version("tfk-dfrf")
