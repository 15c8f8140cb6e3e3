"""tfk plugin for StyleHEAT: one image + driving video or audio to high-resolution talking video."""

from tfk.plugin import package_version

__version__ = package_version("tfk-styleheat")
