"""Feature-sequence to video-frame alignment, and the exact per-model layouts (pure numpy).

Everything is **start-anchored**: video frame ``i`` (time ``i / fps``) maps to feature row
``floor(i * feat_rate / fps)``; there is no time shift anywhere in the originals. What differs between
them is the window around that row, the padding, and how the *number* of rows is decided, which is
where the well-known "off by a few frames" behaviours come from:

* **DeepSpeech v0.1, DINet/LawDNet (DP1)** -- 50 Hz logits, ``logits[::2]`` -> 25 Hz ``[T, 29]`` with
  ``T = ceil(ceil(M / 2) / 2)``, ``M = 1 + ceil((N - 400) / 160)`` MFCC frames (1 s -> 25, 4 s -> 100). The
  per-frame input is 5 rows centred on the frame, edge padded (:func:`centred_windows`).
* **deepspeech.pytorch V3 (DP2, LawDNet epoch 170)** -- ``ceil((N // 160 + 1) / 2)`` 50 Hz steps, then
  ``[::2]``: ``T = 25 * dur + 1`` (1 s -> 26, 10 s -> 251). With an mp4's AAC padding this is the README's
  "DeepSpeech always has ~3 frames more than the video"; LawDNet does **not** shift: it takes
  ``min(n_video, n_audio)`` rows from the start and drops the tail. Do the same (``n_frames`` below).
* **AD-NeRF / ER-NeRF / DFRF DeepSpeech** -- 50 Hz logits are linearly interpolated (``np.interp``, so a
  short sequence is edge-extended) onto ``round(50 * dur)`` 50 Hz timestamps; the "window of 1" loop then
  drops the **last** row; 8 zero rows are padded each side and 16-row windows are taken every 2 rows:
  ``[N, 16, 29]`` with ``N = ceil((round(50 * dur) - 1) / 2)`` (3 s -> 75, 8 s -> 200). Window ``k`` covers
  50 Hz rows ``[2k - 8, 2k + 8)``, i.e. it is centred on video frame ``k`` (:func:`adnerf_windows`).
* **wav2vec / Avatar-ERNeRF HuBERT** -- ``F.unfold(kernel 16, padding 8, stride 2)`` over ``M`` 50 Hz rows:
  ``[M // 2 + 1, 16, C]``, the same windows as AD-NeRF but one *more* for even ``M`` (the loop above stops
  one window earlier) (:func:`unfold_windows`).
* **ER-NeRF HuBERT** -- ``(n - 80) // 320`` 50 Hz rows, trimmed to even, reshaped ``[T/2, 2, C]``: frame
  ``i`` gets 50 Hz rows ``2i, 2i+1`` (:func:`ernerf_hubert_layout`).
* **ER-NeRF training** -- frame ``i`` reads 25 Hz rows ``[i - 4, i + 4)``, zero padded:
  ``align_to_frames(x, 25, n, window=8, offset=-4, pad="zero")``.
* **Wav2Lip / SadTalker mel** -- 80 Hz, 16-row windows starting at ``int(80 i / 25)`` (Wav2Lip, tail chunk
  anchored to the end) or ``int(80 (i - 2) / 25)`` (SadTalker, truncation toward zero, clamped): see
  :mod:`tfk.audio.mel`.
* **PHADTF MFCC** -- 100 Hz, 28-row windows from ``4 i`` on a signal padded by 0.12 s: :mod:`tfk.audio.mfcc`.
"""

from __future__ import annotations

import math

import numpy as np

from tfk.errors import BadInput

#: DeepSpeech logit rate (both v0.1 and deepspeech.pytorch) before the ``[::2]`` decimation.
DS_STEP_RATE = 50.0


def frame_rows(n_frames: int, feat_rate: float, fps: float = 25.0) -> np.ndarray:
    """Feature row of each video frame, start-anchored: ``floor(i * feat_rate / fps)`` (exact for rational rates)."""
    i = np.arange(n_frames, dtype=np.float64)
    return np.floor(i * float(feat_rate) / float(fps) + 1e-9).astype(np.int64)


def align_to_frames(
    features: np.ndarray,
    feat_rate: float,
    n_frames: int,
    fps: float = 25.0,
    window: int | None = None,
    offset: int | None = None,
    pad: str = "edge",
) -> np.ndarray:
    """Align a ``[T, C...]`` feature sequence at ``feat_rate`` rows/s to ``n_frames`` video frames at ``fps``.

    Frame ``i`` is anchored at row ``r_i = floor(i * feat_rate / fps)``. ``window=None`` returns row ``r_i``
    (``[n_frames, C...]``); ``window=w`` returns rows ``r_i + offset ... r_i + offset + w - 1`` (``offset``
    defaults to ``-(w // 2)``, a centred window) as ``[n_frames, w, C...]``. Rows outside ``[0, T)`` are
    the nearest edge row (``pad="edge"``) or zeros (``pad="zero"``). ``n_frames`` is the caller's choice
    (usually ``min(video frames, audio frames)``); asking for frames past the end of the audio pads them.
    """
    x = np.asarray(features)
    if x.ndim < 1 or x.shape[0] == 0:
        raise BadInput("no feature rows to align (empty audio?)")
    if n_frames < 0:
        raise ValueError("n_frames must be >= 0")
    if feat_rate <= 0 or fps <= 0:
        raise ValueError("feat_rate and fps must be positive")
    if pad not in ("edge", "zero"):
        raise ValueError("pad must be 'edge' or 'zero'")
    rows = frame_rows(n_frames, feat_rate, fps)
    if window is None:
        idx = rows
    else:
        if window < 1:
            raise ValueError("window must be >= 1")
        off = -(window // 2) if offset is None else offset
        idx = rows[:, None] + off + np.arange(window)[None, :]
    t = x.shape[0]
    if pad == "edge":
        return x[np.clip(idx, 0, t - 1)]
    padded = np.concatenate([x, np.zeros((1, *x.shape[1:]), dtype=x.dtype)])
    return padded[np.where((idx >= 0) & (idx < t), idx, t)]


# --- DeepSpeech layouts --------------------------------------------------------------------------------


def every_second_step(logits50: np.ndarray) -> np.ndarray:
    """DINet/LawDNet ``[T, 29]`` at 25 fps from per-step logits ``[T50, 29]``: every 2nd step (``[::2]``)."""
    x = np.asarray(logits50)
    if x.ndim != 2:
        raise BadInput(f"expected logits [T, C], got shape {tuple(x.shape)}")
    return x[::2]


def centred_windows(ds25: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """Per-frame windows ``[n, C, 5]``: rows ``i-2 .. i+2`` of 25 Hz features, edge padded (DINet/LawDNet's input).

    ``n_frames`` defaults to the number of feature rows; pass ``min(n_video, n_audio)`` to drop the
    surplus tail as the original inference does.
    """
    x = np.asarray(ds25)
    n = x.shape[0] if n_frames is None else n_frames
    return np.ascontiguousarray(np.swapaxes(align_to_frames(x, 25.0, n, 25.0, window=5, pad="edge"), 1, 2))


def adnerf_n_frames(n_samples: int, sr: int = 16000) -> int:
    """AD-NeRF window count ``ceil((round(50 * dur) - 1) / 2)`` for ``n_samples`` of audio."""
    n50 = round(n_samples / float(sr) * DS_STEP_RATE)
    return max(0, math.ceil((n50 - 1) / 2))


def adnerf_interpolate(logits50: np.ndarray, n_samples: int, sr: int = 16000) -> np.ndarray:
    """AD-NeRF's resampling of 50 Hz logits onto ``round(50 * dur)`` 50 Hz timestamps (float64, ``np.interp``)."""
    x = np.asarray(logits50, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise BadInput(f"expected logits [T, C] with T > 0, got shape {tuple(x.shape)}")
    n_out = round(n_samples / float(sr) * DS_STEP_RATE)
    t_in = np.arange(x.shape[0]) / DS_STEP_RATE
    t_out = np.arange(n_out) / DS_STEP_RATE
    return np.stack([np.interp(t_out, t_in, x[:, c]) for c in range(x.shape[1])], axis=1).reshape(n_out, x.shape[1])


def adnerf_windows(logits50: np.ndarray, n_samples: int, sr: int = 16000, win: int = 16) -> np.ndarray:
    """AD-NeRF/ER-NeRF/DFRF DeepSpeech ``aud.npy``: ``[N, 16, 29]`` float64, ``N = ceil((round(50 dur) - 1) / 2)``.

    Interpolate (:func:`adnerf_interpolate`), drop the last row, then window ``k`` = rows
    ``[2k - 8, 2k + 8)`` with zeros outside (= ``align_to_frames(rows, 50, N, window=16, pad="zero")``).
    """
    rows = adnerf_interpolate(logits50, n_samples, sr)[:-1]
    n = adnerf_n_frames(n_samples, sr)
    if n == 0:
        raise BadInput("audio too short for AD-NeRF DeepSpeech windows")
    return align_to_frames(rows, DS_STEP_RATE, n, 25.0, window=win, offset=-(win // 2), pad="zero")


def unfold_windows(feats50: np.ndarray, win: int = 16, stride: int = 2) -> np.ndarray:
    """wav2vec / Avatar-ERNeRF layout ``[M // 2 + 1, 16, C]``: ``F.unfold(kernel 16, padding 8, stride 2)``."""
    x = np.asarray(feats50)
    if x.ndim != 2 or x.shape[0] == 0:
        raise BadInput(f"expected features [M, C] with M > 0, got shape {tuple(x.shape)}")
    n = (x.shape[0] + 2 * (win // 2) - win) // stride + 1
    return align_to_frames(x, DS_STEP_RATE, n, DS_STEP_RATE / stride, window=win, offset=-(win // 2), pad="zero")


def ernerf_hubert_layout(hidden50: np.ndarray) -> np.ndarray:
    """ER-NeRF ``aud_hu.npy``: 50 Hz HuBERT states trimmed to an even count and reshaped ``[T/2, 2, C]``."""
    x = np.asarray(hidden50)
    if x.ndim != 2 or x.shape[0] < 2:
        raise BadInput(f"expected hidden states [T>=2, C], got shape {tuple(x.shape)}")
    t = x.shape[0] - x.shape[0] % 2
    return x[:t].reshape(t // 2, 2, x.shape[1])
