from __future__ import annotations

import sys

import numpy as np
import pytest

from tfk.audio.io import to_int16
from tfk.audio.mfcc import deepspeech_input
from tfk.errors import InvalidArtifact, Unavailable


def _tiny_graph(path, w, b, scoped=False, fixed_input=False):
    """A frozen v1 GraphDef with DeepSpeech v0.1's node names: logits[T,1,29] = mask(lengths) * (x @ W + b)."""
    tf = pytest.importorskip("tensorflow")
    g = tf.Graph()
    with g.as_default():
        pre = "deepspeech/" if scoped else ""
        shape = [1, 16, 19, 26] if fixed_input else [1, None, 494]
        x = tf.compat.v1.placeholder(tf.float32, shape, name=pre + "input_node")
        lengths = tf.compat.v1.placeholder(tf.int32, [None], name=pre + "input_lengths")
        y = tf.linalg.matmul(tf.reshape(x, [-1, 494]) if not fixed_input else tf.zeros([16, 494]), tf.constant(w))
        y = y + tf.constant(b)
        mask = tf.cast(tf.sequence_mask(lengths, tf.shape(y)[0]), tf.float32)  # [1, T]
        y = y * tf.transpose(mask)
        tf.identity(tf.expand_dims(y, 1), name=pre + "logits")
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    return rng.standard_normal((494, 29)).astype(np.float32) * 0.1, rng.standard_normal(29).astype(np.float32)


@pytest.mark.parametrize("scoped", [False, True])
def test_graph_runner_feeds_published_node_names(tmp_path, weights, speech8, scoped):
    from tfk.audio.deepspeech_tf import DeepSpeechV01

    w, b = weights
    pb = _tiny_graph(tmp_path / "output_graph.pb", w, b, scoped=scoped)
    with DeepSpeechV01(pb) as ds:
        logits = ds.logits(speech8)
        ref = deepspeech_input(to_int16(speech8)).astype(np.float32) @ w + b
        assert logits.shape == (400, 29)  # 8 s at 50 steps/s
        np.testing.assert_allclose(logits, ref, rtol=1e-4, atol=1e-3)
        lawd = ds.features(speech8, layout="lawdnet")
        adn = ds.features(speech8, layout="adnerf")
    assert lawd.shape == (200, 29)
    np.testing.assert_allclose(lawd, logits[::2])
    assert adn.shape == (200, 16, 29)
    np.testing.assert_allclose(adn[10, 8], logits[20], rtol=1e-6)


def test_rejects_graphs_that_are_not_v010(tmp_path, weights):
    from tfk.audio.deepspeech_tf import DeepSpeechV01

    w, b = weights
    with pytest.raises(InvalidArtifact, match=r"0\.4"):
        DeepSpeechV01(_tiny_graph(tmp_path / "new.pb", w, b, fixed_input=True))
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\xff\x00garbage" * 10)
    with pytest.raises(InvalidArtifact):
        DeepSpeechV01(junk)


def test_missing_tensorflow_is_reported(tmp_path, monkeypatch):
    from tfk.audio.deepspeech_tf import DeepSpeechV01

    pb = tmp_path / "output_graph.pb"
    pb.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    with pytest.raises(Unavailable, match="TensorFlow"):
        DeepSpeechV01(pb)
