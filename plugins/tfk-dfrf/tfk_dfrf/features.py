"""A named stand-in for DeepSpeech v0.1 features, for demos and tests without the 190 MB TF graph.

It is *not* DeepSpeech: 29 log band energies per 20 ms step (50 Hz, like the DeepSpeech logits), put through
the same AD-NeRF windowing (:func:`tfk.audio.align.adnerf_windows`) so shapes and frame counts are the real
ones. A model trained on real DeepSpeech features needs the real extractor (``tfk weights pull`` the shared
DeepSpeech v0.1 graph and install TensorFlow).
"""

from __future__ import annotations

import itertools

import numpy as np

STANDIN_NAME = "log-band-energy stand-in for DeepSpeech v0.1 (not DeepSpeech)"


def standin_deepspeech(wav: np.ndarray, sr: int = 16000) -> np.ndarray:
    """``[N, 16, 29]`` windows with ``N = ceil((round(50 T) - 1) / 2)``."""
    from tfk.audio.align import adnerf_windows

    x = np.asarray(wav, dtype=np.float32)
    hop = sr // 50
    n = max(1, int(np.ceil(x.size / hop)))
    frames = np.zeros((n, 2 * hop), dtype=np.float32)
    for i in range(n):
        seg = x[i * hop : i * hop + 2 * hop]
        frames[i, : seg.size] = seg
    spec = np.abs(np.fft.rfft(frames * np.hanning(2 * hop), axis=1)) ** 2
    edges = np.linspace(0, spec.shape[1], 30).astype(int)
    bands = np.stack([spec[:, a:b].sum(1) for a, b in itertools.pairwise(edges)], 1)
    logits = np.log(bands + 1e-6)
    logits = (logits - logits.mean()) / (logits.std() + 1e-6)
    return adnerf_windows(logits, x.size, sr).astype(np.float32)
