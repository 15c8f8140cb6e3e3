"""Fixtures of the 3DMM tests: a small synthetic BFM (with every helper file) and the derived models."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthetic_bfm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files of a synthetic BFM 2009 + helpers, and the derived ``adnerf_3dmm.npz`` / ``BFM_model_front.mat``."""
    from tfk.tdmm.bfm import derive_bfm
    from tfk.tdmm.synthetic import make_synthetic_bfm

    root = tmp_path_factory.mktemp("bfm")
    files = make_synthetic_bfm(root / "src", seed=0)
    files.update(derive_bfm(files["01_MorphableModel.mat"], root / "derived", helpers=files))
    return files


@pytest.fixture(scope="session")
def face_model(synthetic_bfm):
    from tfk.tdmm.model import FaceModel

    return FaceModel.load(synthetic_bfm["adnerf_3dmm.npz"])


@pytest.fixture(scope="session")
def deep3d_model(synthetic_bfm):
    from tfk.tdmm.fit257 import Deep3DFaceModel

    return Deep3DFaceModel.load(synthetic_bfm["BFM_model_front.mat"])
