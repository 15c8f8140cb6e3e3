"""tfk plugin for DFRF: few-shot audio-driven NeRF talking head."""

__version__ = "0.1.0"
