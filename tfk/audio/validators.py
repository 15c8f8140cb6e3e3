"""Validators of the audio artifacts whose sha256 is not published (see :mod:`tfk.audio.artifacts`).

Each one tells a complete file from a cut-short or wrong one, so that a download that ended early
is never pinned as verified.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfk.errors import InvalidArtifact
from tfk.weights import checks

__all__ = [
    "validate_deepspeech_graph",
    "validate_hf_weights",
    "validate_hubert_config",
    "validate_preprocessor_config",
    "validate_wav2vec2_config",
]


def validate_hubert_config(path: str | os.PathLike[str]) -> None:
    """facebook/hubert-large-ls960-ft ``config.json``: a complete JSON object describing a HuBERT model."""
    checks.json_object(path, {"model_type": "hubert", "hidden_size": None, "num_hidden_layers": None})


def validate_wav2vec2_config(path: str | os.PathLike[str]) -> None:
    """A wav2vec 2.0 ``config.json``: a complete JSON object describing a wav2vec2 model."""
    checks.json_object(path, {"model_type": "wav2vec2", "hidden_size": None, "num_hidden_layers": None})


def validate_preprocessor_config(path: str | os.PathLike[str]) -> None:
    """A Hugging Face feature-extractor ``preprocessor_config.json`` (complete JSON, 16 kHz)."""
    checks.json_object(path, {"sampling_rate": 16000, "feature_size": None})


def validate_hf_weights(path: str | os.PathLike[str]) -> None:
    """A Hugging Face ``pytorch_model.bin`` (a complete PyTorch zip archive)."""
    checks.torch_zip_archive(path)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _protobuf_fields_complete(data: bytes) -> bool:
    """Walk the top-level fields of a protobuf message: False when the last one runs past the end."""
    i = 0
    try:
        while i < len(data):
            key, i = _varint(data, i)
            wire = key & 7
            if wire == 0:
                _, i = _varint(data, i)
            elif wire == 1:
                i += 8
            elif wire == 2:
                n, i = _varint(data, i)
                i += n
            elif wire == 5:
                i += 4
            else:
                return False
    except ValueError:
        return False
    return i == len(data)


def validate_deepspeech_graph(path: str | os.PathLike[str]) -> None:
    """DeepSpeech v0.1.0 ``output_graph.pb``: a complete serialised GraphDef with the input and logits nodes.

    Every top-level field of the GraphDef (each node definition) must end inside the file, so a download
    cut short in the middle of a node is refused.
    """
    from tfk.audio.deepspeech_tf import INPUT_NODE, LOGITS_NODE

    p = Path(path)
    data = p.read_bytes()
    if not _protobuf_fields_complete(data):
        raise InvalidArtifact(f"{p.name} is not a complete TensorFlow graph (its last field is cut short)")
    for node in (INPUT_NODE, LOGITS_NODE):
        if node.encode() not in data:
            raise InvalidArtifact(f"{p.name} is not the DeepSpeech v0.1.0 graph (no {node} node)")
