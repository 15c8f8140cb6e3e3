"""tfk plugin for StyleHEAT: one image + driving video or audio to high-resolution talking video."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfk-styleheat")
except PackageNotFoundError:  # running from a checkout
    __version__ = "0.1.0"
