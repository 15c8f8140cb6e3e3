"""tfk plugin for PHADTF: audio to personalised head pose and expression via 3DMM, refined by a memory GAN."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfk-phadtf")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"
