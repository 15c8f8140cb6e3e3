"""tfk plugin for PHADTF: audio to personalised head pose and expression via 3DMM."""

__version__ = "0.1.0"
