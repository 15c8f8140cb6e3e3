"""Audio -> ER-NeRF features with the front-end a model was trained with (through :mod:`tfk.audio`).

- ``deepspeech``: DeepSpeech v0.1.0 logits in the AD-NeRF window layout ``[N, 16, 29]`` (``aud.npy``);
- ``hubert``: ``facebook/hubert-large-ls960-ft`` hidden states in ER-NeRF's ``[T/2, 2, 1024]`` (``aud_hu.npy``).

Both give about 25 rows per second of audio (one per video frame).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfk.errors import Unavailable

FRONTENDS = ("deepspeech", "hubert")


def extract(
    audio: str | os.PathLike[str] | np.ndarray,
    frontend: str,
    require: Callable[[str], Path] | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Features ``[N, W, C]`` of an audio file (any format ffmpeg reads) or a 16 kHz mono float array."""
    from tfk import audio as taudio

    wav = audio if isinstance(audio, np.ndarray) else taudio.load(audio)
    if require is None:
        from tfk.weights import require as _req

        require = _req
    if frontend == "deepspeech":
        from tfk.audio.deepspeech_tf import ARTIFACT_ID, DeepSpeechV01

        with DeepSpeechV01(require(ARTIFACT_ID)) as ds:
            return ds.features(wav, 16000, layout="adnerf")
    if frontend == "hubert":
        from tfk.audio import hubert
        from tfk.audio.align import ernerf_hubert_layout
        from tfk.audio.artifacts import HF_SNAPSHOTS

        ids = HF_SNAPSHOTS["hubert-large-ls960-ft"]
        files = [Path(require(i)) for i in ids]
        d = files[0].parent if len({f.parent for f in files}) == 1 else hubert.snapshot_dir()
        model = hubert.load_model(d, "hubert", device)
        return ernerf_hubert_layout(hubert.hidden_states(model, wav, 16000, normalize=hubert._do_normalize(d)))
    raise Unavailable(
        f"audio front-end {frontend!r} is not available in tfk (supported: {', '.join(FRONTENDS)})",
        hint="train the subject with --audio-features deepspeech or hubert",
    )
