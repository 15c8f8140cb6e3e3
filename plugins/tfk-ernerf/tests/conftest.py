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


@pytest.fixture(scope="session")
def tiny_deepspeech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frozen TF graph with DeepSpeech v0.1's node names (``input_node`` [1,T,494] -> ``logits`` [T,1,29]).

    A stand-in (a random linear map), run through the same :class:`tfk.audio.deepspeech_tf.DeepSpeechV01` path.
    """
    import numpy as np

    tf = pytest.importorskip("tensorflow")
    path = tmp_path_factory.mktemp("ds") / "output_graph.pb"
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, None, 494], name="input_node")
        tf.compat.v1.placeholder(tf.int32, [1], name="input_lengths")
        w = tf.constant(np.random.default_rng(0).normal(0, 0.05, (494, 29)).astype(np.float32))
        y = tf.tensordot(x, w, axes=1)
        tf.transpose(y, [1, 0, 2], name="logits")
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


def _save_hf_snapshot(model, d: Path) -> Path:
    model.save_pretrained(d)
    (d / "model.safetensors").unlink(missing_ok=True)
    torch.save(model.state_dict(), d / "pytorch_model.bin")
    return d


@pytest.fixture(scope="session")
def save_hf_snapshot():
    """``save(model, dir)``: ``config.json`` + ``pytorch_model.bin``, the published snapshots' file names that the
    store keeps (transformers 5 itself writes ``model.safetensors``)."""
    return _save_hf_snapshot


@pytest.fixture(scope="session")
def fake_find(tiny_deepspeech):
    """A ``find(artifact_id)`` (the store lookup of :mod:`tfk.nerfprep.features`) serving the stand-in DeepSpeech
    graph and nothing else (the store itself is tested elsewhere)."""
    return {"shared/deepspeech_v010": tiny_deepspeech}.get


@pytest.fixture(scope="session")
def subject_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A subject workspace: the synthetic data at its root, a 64x48 full-resolution video (+ matte) with the
    32x32 head crop at (16, 8), ``model_data.json`` pointing at them, and a briefly trained head model."""
    import json

    import numpy as np
    from tfk_ernerf.synthetic import make_subject
    from tfk_ernerf.train.config import preset
    from tfk_ernerf.train.trainer import run_stage

    from tfk.media import write_video

    ws = tmp_path_factory.mktemp("ws")
    make_subject(ws, n_frames=12, size=32)
    full = np.zeros((12, 48, 64, 3), np.uint8)
    full[..., 0] = 200
    write_video(ws / "input.mp4", list(full), fps=25)
    matte = np.zeros((12, 48, 64, 3), np.uint8)
    matte[:, 8:, 16:48] = 255
    write_video(ws / "alpha.mp4", list(matte), fps=25)
    (ws / "model_data.json").write_text(
        json.dumps({"head_region": [16, 8, 48, 40], "video_file": "input.mp4", "alpha_file": "alpha.mp4"})
    )
    run_stage(ws, ws / "train", "head", preset("tiny", iters_head=4))
    return ws
