"""tfk-dfrf: DFRF (few-shot audio-driven NeRF talking head) as a tfk plugin.

Stages: ``tfk train|infer|evaluate dfrf`` (+ ``preprocess``, the shared AD-NeRF steps). The entry module is
:mod:`tfk_dfrf.plugin`; everything heavy lives in modules that it imports lazily.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfk-dfrf")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"
