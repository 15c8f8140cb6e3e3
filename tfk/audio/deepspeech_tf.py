"""Mozilla DeepSpeech v0.1.0 logits from the published frozen TensorFlow graph (TensorFlow is optional).

The graph (``output_graph.pb`` in ``deepspeech-0.1.0-models.tar.gz``; the same graph is re-published as
``deepspeech-0_1_0-b90017e8.pb``) is imported under the name scope ``deepspeech`` -- exactly as AD-NeRF,
DINet and LawDNet do -- and run through ``tf.compat.v1`` (TF 2.x works; TF 1.15 was the original runtime):

===============================  ===============================================================
``deepspeech/input_node:0``      float32 ``[1, T50, 494]``: :func:`tfk.audio.mfcc.deepspeech_input`
``deepspeech/input_lengths:0``   int32 ``[1]``: ``T50``
``deepspeech/logits:0``          ``[T50, 1, 29]`` time-major, pre-softmax (26 letters, space, ', blank)
===============================  ===============================================================

The input is computed from *int16-valued* samples (the originals read 16-bit WAVs and cast to int16; a
float WAV in [-1, 1] would become silence). Only v0.1.0 has a dynamic time axis; graphs from
DeepSpeech >= 0.4 take a fixed ``[1, 16, 19, 26]`` input and are rejected.

Per-step logits come out at 50 steps/s; :mod:`tfk.audio.align` turns them into the LawDNet/DINet
``[N, 29]`` (``[::2]``) or the AD-NeRF ``[N, 16, 29]`` 25 fps layouts.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InvalidArtifact, Unavailable

ARTIFACT_ID = "shared/deepspeech_v010"
SCOPE = "deepspeech"
INPUT_NODE = "input_node"
LENGTHS_NODE = "input_lengths"
LOGITS_NODE = "logits"
N_INPUT = 494  # (2 * 9 + 1) * 26
N_CLASSES = 29


def _import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        raise Unavailable(
            "DeepSpeech v0.1 features need TensorFlow, which is not installed",
            hint="pip install tensorflow-cpu",
        ) from None
    return tf


class DeepSpeechV01:
    """A loaded DeepSpeech v0.1.0 graph and its session. ``graph_path=None`` takes it from the weights store."""

    def __init__(self, graph_path: str | os.PathLike[str] | None = None):
        if graph_path is None:
            from tfk.weights import require

            graph_path = require(ARTIFACT_ID)
        path = Path(graph_path)
        if not path.is_file():
            from tfk.errors import InputNotFound

            raise InputNotFound(f"DeepSpeech graph not found: {path}")
        tf = _import_tf()
        self._tf = tf
        gd = tf.compat.v1.GraphDef()
        try:
            gd.ParseFromString(path.read_bytes())
        except Exception:  # protobuf DecodeError and friends
            raise InvalidArtifact(f"{path} is not a frozen TensorFlow GraphDef") from None
        names = {n.name for n in gd.node}
        # The published graph has bare node names; tolerate a graph that already carries the scope.
        scope = "" if f"{SCOPE}/{INPUT_NODE}" in names else SCOPE
        missing = [n for n in (INPUT_NODE, LENGTHS_NODE, LOGITS_NODE) if f"{SCOPE}/{n}" not in names and n not in names]
        if missing:
            raise InvalidArtifact(f"{path} is not a DeepSpeech v0.1 graph (missing nodes: {', '.join(missing)})")
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(gd, name=scope)
        self.input = self.graph.get_tensor_by_name(f"{SCOPE}/{INPUT_NODE}:0")
        self.lengths = self.graph.get_tensor_by_name(f"{SCOPE}/{LENGTHS_NODE}:0")
        self.logits_t = self.graph.get_tensor_by_name(f"{SCOPE}/{LOGITS_NODE}:0")
        shape = self.input.shape
        if shape.rank is not None and (shape.rank != 3 or shape[-1] != N_INPUT):
            raise InvalidArtifact(
                f"{path}: input node has shape {shape}, expected [1, T, {N_INPUT}] (only DeepSpeech v0.1.0 has a "
                "dynamic time axis; graphs from 0.4+ take [1, 16, 19, 26])"
            )
        self._session = tf.compat.v1.Session(graph=self.graph)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> DeepSpeechV01:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_input(self, input_vector: np.ndarray) -> np.ndarray:
        """Run the graph on a ``[T50, 494]`` input; returns logits ``[T50, 29]`` float32."""
        x = np.asarray(input_vector, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != N_INPUT:
            raise BadInput(f"DeepSpeech input must be [T, {N_INPUT}], got {tuple(x.shape)}")
        out = self._session.run(
            self.logits_t,
            feed_dict={
                self.input: x[None],
                self.lengths: np.array([x.shape[0]], dtype=self.lengths.dtype.as_numpy_dtype),
            },
        )
        out = np.asarray(out)
        if out.ndim != 3 or out.shape[1] != 1:
            raise InvalidArtifact(f"DeepSpeech logits have shape {out.shape}, expected [T, 1, {N_CLASSES}]")
        return out[:, 0, :]

    def logits(self, wav: np.ndarray, sr: int = 16000) -> np.ndarray:
        """Per-step logits ``[T50, 29]`` at 50 steps/s for float mono audio in [-1, 1] at 16 kHz."""
        from tfk.audio.io import to_int16
        from tfk.audio.mfcc import deepspeech_input

        if sr != 16000:
            raise BadInput(f"DeepSpeech v0.1 needs 16 kHz audio, got {sr} Hz (load it with tfk.audio.load)")
        return self.run_input(deepspeech_input(to_int16(wav), sr))

    def features(self, wav: np.ndarray, sr: int = 16000, layout: str = "lawdnet") -> np.ndarray:
        """25 fps features: ``layout="lawdnet"`` -> ``[N, 29]`` (DINet/LawDNet DP1), ``"adnerf"`` -> ``[N, 16, 29]``."""
        from tfk.audio.align import adnerf_windows, every_second_step

        logits = self.logits(wav, sr)
        if layout == "lawdnet":
            return every_second_step(logits)
        if layout == "adnerf":
            return adnerf_windows(logits, len(wav), sr)
        raise ValueError("layout must be 'lawdnet' or 'adnerf'")
