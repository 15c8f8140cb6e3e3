"""tfk-dfrf: DFRF (few-shot audio-driven NeRF talking head) as a tfk plugin.

Stages: ``tfk train|infer|evaluate dfrf`` (+ ``preprocess``, the shared AD-NeRF steps). The entry module is
:mod:`tfk_dfrf.plugin`; everything heavy lives in modules that it imports lazily.
"""

from tfk.plugin import package_version

__version__ = package_version("tfk-dfrf")
