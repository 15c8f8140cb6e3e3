"""Tiny random speech front-ends (HuBERT, wav2vec2) for tests: the real architectures at toy sizes."""

from __future__ import annotations

from typing import Any


def tiny_speech_config(kind: str, **overrides: Any) -> Any:
    """A ``transformers`` config of ``kind`` (``"hubert"`` or ``"wav2vec"``) small enough to run in milliseconds.

    Seven 8-channel feature-extractor convs (the real strides: 50 steps per second of 16 kHz audio), one
    transformer layer of width 16 with two heads; ``overrides`` replace any field (``vocab_size=44`` for
    ER-NeRF's esperanto CTC head, ``hidden_size=32``, ...).
    """
    import transformers

    cls = {"hubert": transformers.HubertConfig, "wav2vec": transformers.Wav2Vec2Config}[kind]
    fields: dict[str, Any] = dict(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    fields.update(overrides)
    return cls(**fields)
