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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test over a few seconds (still runs in CI)")


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


CLIP_FRAMES = 40  # the shared clip is 8 s; tests keep its first 40 frames (30 train, 10 held out)


def _ctx(root: Path, uid: str, stage: str):
    from tfk.plugin import StageContext
    from tfk.workspace import Workspace

    ws = Workspace.for_subject("phadtf", uid, root / "ws")
    return StageContext(model="phadtf", stage=stage, home=root, workspace=ws)


def preprocess_options(video: Path, synthetic_bfm: dict, tiny_weights: dict, **kw) -> dict:
    opts = {
        "input": Path(video),
        "max_frames": CLIP_FRAMES,
        "min_seconds": 0.0,
        "landmarks": "dlib",
        "max_missing": 0.1,
        "coeffs": "fit",
        "fit_iters": 60,
        "photo_iters": 0,
        "arcface": str(tiny_weights["arcface"]),
        "face_model": synthetic_bfm["BFM_model_front.mat"],
        "lm3d": synthetic_bfm["similarity_Lm3D_all.mat"],
    }
    opts.update(kw)
    return opts


@pytest.fixture(scope="session")
def subject_ctx(tmp_path_factory, shared_media, synthetic_bfm, tiny_weights):  # noqa: F811
    """The shared clip preprocessed (first 40 frames, fitted coefficients on the synthetic BFM stand-in)."""
    from tfk_phadtf.preprocess import preprocess

    root = tmp_path_factory.mktemp("subject")
    ctx = _ctx(root, "katie", "preprocess")
    summary = preprocess(ctx, preprocess_options(shared_media / "WDA_KatieHill_000.mp4", synthetic_bfm, tiny_weights))
    ctx.extra["summary"] = summary
    return ctx


@pytest.fixture(scope="session")
def subject(subject_ctx):
    from tfk_phadtf.subject import Subject

    return Subject.from_workspace(subject_ctx.workspace)


@pytest.fixture(scope="session")
def phadtf_helpers():
    """``(make_ctx, preprocess_options)`` for tests that build their own contexts."""
    return _ctx, preprocess_options
