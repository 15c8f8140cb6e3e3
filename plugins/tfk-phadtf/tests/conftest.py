"""Fixtures of the PHADTF plugin tests: tfk's pytest fixtures, a synthetic BFM stand-in and tiny weights.

The BFM is licence-gated, so the tests render with the toolbox's synthetic BFM-structured model
(:func:`tfk.tdmm.synthetic.make_synthetic_bfm`, derived to the Deep3D front layout), as tests/tdmm does.
Tiny weights are the published architectures with every width divided (``WIDTH``), saved in the published
file layouts, so they load through the same strict loaders as the real files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the plugin package without installing it

from tfk.testing.pytest_plugin import (  # noqa: E402,F401 - re-exported fixtures
    _tfk_network_guard,
    shared_media,
    synthetic_clip,
    tfk_cli,
    tfk_home,
)

WIDTH = 16


@pytest.fixture(scope="session")
def synthetic_bfm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tfk.tdmm.bfm import derive_bfm
    from tfk.tdmm.synthetic import make_synthetic_bfm

    root = tmp_path_factory.mktemp("bfm")
    files = make_synthetic_bfm(root / "src", seed=0)
    files.update(derive_bfm(files["01_MorphableModel.mat"], root / "derived", helpers=files))
    return files


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tfk_phadtf.train.init import write_tiny_weights

    return write_tiny_weights(tmp_path_factory.mktemp("weights"), width=WIDTH, seed=0)
