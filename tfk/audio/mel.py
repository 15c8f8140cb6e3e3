"""Wav2Lip / SadTalker log-mel spectrogram in torch, with a numpy Slaney mel filterbank.

The recipe (Wav2Lip ``audio.py`` + ``hparams.py``, reused verbatim by SadTalker's audio2coeff):

===================  ==========================================================================
pre-emphasis         ``y[0] = x[0]; y[n] = x[n] - 0.97 x[n-1]``
STFT                 ``n_fft=800, hop=200, win=800``, periodic Hann, ``center=True`` -> 80 frames/s
magnitude -> mel     ``|STFT|`` (not power), 80 Slaney mel bands, ``fmin=55``, ``fmax=7600``
level                ``20 log10(max(1e-5, mel)) - 20`` (``min_level_db=-100``, ``ref_level_db=20``)
normalisation        symmetric, clipped: ``clip(8 (S + 100) / 100 - 4, -4, 4)`` (``max_abs_value=4``)
===================  ==========================================================================

The only version-dependent detail is the STFT edge padding: librosa < 0.9 (Wav2Lip pins 0.7, StyleHEAT
pins 0.6) pads ``reflect``; librosa >= 0.9 (SadTalker's own requirements: 0.9.2) pads with zeros
(``constant``). It changes the first and last two mel frames only; ``pad_mode`` selects it.

Output layout is ``[n_mels, T]`` (the originals' layout) with ``T = 1 + len(wav) // 200``.
"""

from __future__ import annotations

import math

import numpy as np

from tfk.errors import BadInput

#: Wav2Lip hparams (16 kHz).
SAMPLE_RATE = 16000
N_FFT = 800
HOP = 200
WIN = 800
N_MELS = 80
FMIN = 55.0
FMAX = 7600.0
PREEMPHASIS = 0.97
MIN_LEVEL_DB = -100.0
REF_LEVEL_DB = 20.0
MAX_ABS_VALUE = 4.0
#: mel frames per second at 16 kHz (= SAMPLE_RATE / HOP).
MEL_RATE = SAMPLE_RATE / HOP
#: mel frames per video-frame window (Wav2Lip ``mel_step_size``, SadTalker ``syncnet_mel_step_size``).
MEL_STEP = 16


# --- Slaney mel scale (same maths as librosa.filters.mel with htk=False, norm="slaney") ---------------

_F_SP = 200.0 / 3.0  # Hz per mel in the linear region
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney (Auditory Toolbox) mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / _F_SP
    with np.errstate(divide="ignore"):
        log = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)


def mel_filterbank(
    sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = FMIN, fmax: float | None = FMAX
) -> np.ndarray:
    """Slaney-normalised triangular mel filterbank ``[n_mels, 1 + n_fft // 2]`` (float64).

    Triangles are placed at ``n_mels + 2`` points equally spaced on the Slaney mel scale between ``fmin``
    and ``fmax`` and evaluated at the FFT bin frequencies; each is scaled by ``2 / (f_hi - f_lo)`` so that
    its area is constant (``norm="slaney"``).
    """
    if fmax is None:
        fmax = sr / 2.0
    fftfreqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


# --- spectrogram ---------------------------------------------------------------------------------------


def _check_wav(wav: np.ndarray) -> np.ndarray:
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise BadInput(f"expected mono audio (1-D samples), got shape {tuple(wav.shape)}")
    if wav.size == 0:
        raise BadInput("the audio holds no samples")
    return wav


def melspectrogram(
    wav: np.ndarray, sr: int = SAMPLE_RATE, *, pad_mode: str = "reflect", block_frames: int = 2000
) -> np.ndarray:
    """Wav2Lip/SadTalker normalised log-mel ``[80, 1 + len // 200]`` float32 at :data:`MEL_RATE` frames/s.

    ``wav`` is mono float in [-1, 1] at ``sr`` (16 kHz for the published models). ``pad_mode`` is the STFT
    edge padding: ``"reflect"`` (Wav2Lip / StyleHEAT's librosa pins) or ``"constant"`` (librosa >= 0.9).
    Frames are computed ``block_frames`` at a time (exactly the same values as one centred STFT), so the
    working memory stays bounded however long the audio is; only the [80, T] result grows.
    """
    import torch

    wav = _check_wav(wav)
    if pad_mode not in ("reflect", "constant"):
        raise ValueError("pad_mode must be 'reflect' or 'constant'")
    x = torch.as_tensor(np.ascontiguousarray(wav), dtype=torch.float64)
    if pad_mode == "reflect" and x.numel() <= N_FFT // 2:
        raise BadInput(f"audio too short for the mel spectrogram ({x.numel()} samples; need > {N_FFT // 2})")
    x = torch.cat([x[:1], x[1:] - PREEMPHASIS * x[:-1]])
    half = N_FFT // 2  # centred frames: pad the signal once, then take frames block by block
    x = torch.nn.functional.pad(x[None, None], (half, half), mode=pad_mode)[0, 0]
    n_frames = 1 + (x.numel() - N_FFT) // HOP
    window = torch.hann_window(WIN, periodic=True, dtype=torch.float64)
    fb = torch.from_numpy(mel_filterbank(sr, N_FFT, N_MELS, FMIN, FMAX))
    min_level = 10.0 ** (MIN_LEVEL_DB / 20.0)  # 1e-5
    out = np.empty((N_MELS, n_frames), dtype=np.float32)
    for t0 in range(0, n_frames, block_frames):
        t1 = min(t0 + block_frames, n_frames)
        seg = x[t0 * HOP : (t1 - 1) * HOP + N_FFT]
        spec = torch.stft(
            seg, n_fft=N_FFT, hop_length=HOP, win_length=WIN, window=window, center=False, return_complex=True
        ).abs()
        db = 20.0 * torch.log10(torch.clamp(fb @ spec, min=min_level)) - REF_LEVEL_DB
        norm = (2.0 * MAX_ABS_VALUE) * ((db - MIN_LEVEL_DB) / (-MIN_LEVEL_DB)) - MAX_ABS_VALUE
        out[:, t0:t1] = torch.clamp(norm, -MAX_ABS_VALUE, MAX_ABS_VALUE).to(torch.float32).numpy()
    return out


# --- per-video-frame mel windows -----------------------------------------------------------------------


def mel_chunks(mel: np.ndarray, fps: float = 25.0, mel_rate: float = MEL_RATE) -> np.ndarray:
    """Wav2Lip inference chunks ``[K, n_mels, 16]``: chunk i starts at ``int(i * 80 / fps)``.

    The loop stops at the first chunk that would run past the end and emits the *last* 16 mel frames
    instead, so ``K`` is about ``fps * duration`` and the final chunk is tail-anchored (it can overlap its
    predecessor). The caller trims video frames to ``K`` (Wav2Lip does ``full_frames[:len(mel_chunks)]``).
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[1] < MEL_STEP:
        raise BadInput(f"need a [n_mels, T>={MEL_STEP}] mel spectrogram, got shape {tuple(mel.shape)}")
    step = mel_rate / fps
    chunks = []
    i = 0
    while True:
        start = int(i * step)
        if start + MEL_STEP > mel.shape[1]:
            chunks.append(mel[:, mel.shape[1] - MEL_STEP :])
            break
        chunks.append(mel[:, start : start + MEL_STEP])
        i += 1
    return np.stack(chunks)


def whole_frames(n_samples: int, sr: int = SAMPLE_RATE, fps: float = 25.0) -> int:
    """SadTalker's frame count ``int(n_samples / (sr / fps))``; the wav is then cut/zero-padded to it."""
    return int(n_samples / (sr / fps))


def trim_to_whole_frames(wav: np.ndarray, sr: int = SAMPLE_RATE, fps: float = 25.0) -> np.ndarray:
    """Trim (or zero-pad at the end) ``wav`` to ``int(n_frames * sr / fps)`` samples, as SadTalker does."""
    n = int(whole_frames(len(wav), sr, fps) * (sr / fps))
    wav = np.asarray(wav)
    if len(wav) >= n:
        return wav[:n]
    return np.pad(wav, (0, n - len(wav)))


def mel_lookback_windows(mel: np.ndarray, n_frames: int, fps: float = 25.0, mel_rate: float = MEL_RATE) -> np.ndarray:
    """SadTalker ``[n_frames, n_mels, 16]`` windows: frame i reads mel rows from ``int(80 * (i - 2) / fps)``.

    Indices are clamped to ``[0, T-1]`` (edge padding). ``int`` truncates toward zero, so the start of
    frames 0 and 1 is ``-6`` and ``-3`` (not ``floor`` = -7, -4): the first two windows are shifted one mel
    step later than a uniform 2-frame look-back would give. This is reproduced exactly.
    """
    mel = np.asarray(mel)
    if mel.ndim != 2:
        raise BadInput(f"need a [n_mels, T] mel spectrogram, got shape {tuple(mel.shape)}")
    t = mel.shape[1]
    starts = np.array([int(mel_rate * ((i - 2) / float(fps))) for i in range(n_frames)], dtype=np.int64)
    idx = np.clip(starts[:, None] + np.arange(MEL_STEP)[None, :], 0, t - 1)
    return np.ascontiguousarray(np.transpose(mel[:, idx], (1, 0, 2)))
