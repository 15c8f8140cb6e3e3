"""Audio toolbox: 16 kHz loading, Wav2Lip/SadTalker mel, MFCC, DeepSpeech v0.1 (TF), deepspeech.pytorch V3,
HuBERT/wav2vec2, and feature-to-frame alignment. Every name is imported lazily (torch/TF load on first use).

Rates: mel 80 frames/s, MFCC 100 frames/s, DeepSpeech / deepspeech.pytorch / HuBERT 50 steps/s; the
per-model layouts are at 25 fps (see :mod:`tfk.audio.align`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": "io",
    "to_int16": "io",
    "SAMPLE_RATE": "io",
    "melspectrogram": "mel",
    "mel_filterbank": "mel",
    "mel_chunks": "mel",
    "mel_lookback_windows": "mel",
    "trim_to_whole_frames": "mel",
    "whole_frames": "mel",
    "MEL_RATE": "mel",
    "mfcc": "mfcc",
    "deepspeech_input": "mfcc",
    "mfcc_context_windows": "mfcc",
    "MFCC_RATE": "mfcc",
    "align_to_frames": "align",
    "frame_rows": "align",
    "every_second_step": "align",
    "centred_windows": "align",
    "adnerf_windows": "align",
    "adnerf_n_frames": "align",
    "unfold_windows": "align",
    "ernerf_hubert_layout": "align",
    "DeepSpeechV01": "deepspeech_tf",
}

__all__ = [*sorted(_EXPORTS), "deepspeech_pt", "hubert"]


def __getattr__(name: str) -> Any:
    if name in ("deepspeech_pt", "hubert", "deepspeech_tf", "mel", "mfcc", "align", "io", "artifacts"):
        return importlib.import_module(f"tfk.audio.{name}")
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'tfk.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tfk.audio.{mod}"), name)
