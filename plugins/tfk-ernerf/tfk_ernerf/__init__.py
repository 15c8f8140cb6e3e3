"""tfk plugin for ER-NeRF: person-specific audio-driven NeRF talking head."""

from tfk.plugin import package_version

__version__ = package_version("tfk-ernerf")
