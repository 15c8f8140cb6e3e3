"""tfk-lawdnet: LawDNet (local affine warping lip-sync, DINet family) as a tfk plugin.

Stages: ``tfk preprocess|train|infer|evaluate|serve lawdnet``. The entry module is
:mod:`tfk_lawdnet.plugin`; everything heavy lives in modules that it imports lazily.
"""

from tfk.plugin import package_version

__version__ = package_version("tfk-lawdnet")
