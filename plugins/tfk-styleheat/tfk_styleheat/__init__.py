"""tfk plugin for StyleHEAT: one image + driving video or audio to high-resolution talking video."""

__version__ = "0.1.0"
