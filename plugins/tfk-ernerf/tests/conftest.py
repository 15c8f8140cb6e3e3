"""Fixtures of the ER-NeRF plugin tests: tfk's pytest fixtures plus a tiny synthetic subject.

The subject is written in the original on-disk layout (transforms json, aud.npy, ori_imgs with .lms,
parsing, gt_imgs, torso_imgs, bc.jpg, au.csv): a coloured ellipsoid "head" seen from slightly moving
cameras, whose "mouth" brightness follows the audio features, so a tiny model has something to learn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the plugin package without installing it

# 2 cores shared by many processes: one intra-op thread avoids thread-barrier stalls (10x slower otherwise)
import torch  # noqa: E402

from tfk.testing.pytest_plugin import (  # noqa: E402,F401 - re-exported fixtures
    _tfk_network_guard,
    shared_media,
    synthetic_clip,
    tfk_cli,
    tfk_home,
)

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def subject_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tfk_ernerf.synthetic import make_subject

    return make_subject(tmp_path_factory.mktemp("subject") / "data", n_frames=12, size=32)
