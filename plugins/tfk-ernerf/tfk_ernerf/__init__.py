"""tfk plugin for ER-NeRF: person-specific audio-driven NeRF talking head."""

__version__ = "0.1.0"
