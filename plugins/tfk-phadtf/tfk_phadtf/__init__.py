"""tfk plugin for PHADTF: audio to personalised head pose and expression via 3DMM, refined by a memory GAN."""

from tfk.plugin import package_version

__version__ = package_version("tfk-phadtf")
