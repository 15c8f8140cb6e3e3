"""MFCC with ``python_speech_features`` defaults, and the two featurisations built on it.

:func:`mfcc` reproduces ``python_speech_features.mfcc`` (0.6) step by step in float64 numpy:

1. pre-emphasis ``y[0] = x[0]; y[n] = x[n] - 0.97 x[n-1]``;
2. framing: ``winlen * sr`` = 400 samples, step ``winstep * sr`` = 160 (rounded half up), rectangular window,
   ``1 + ceil((N - 400) / 160)`` frames (1 frame if ``N <= 400``), the last one zero-padded -> 100 frames/s;
3. power spectrum ``|rfft(frame, 512)|^2 / 512``; frame energy = its row sum (0 -> machine eps);
4. 26 triangular filters between 0 Hz and ``sr/2`` on the HTK mel scale ``2595 log10(1 + f/700)``, with
   *integer* FFT-bin edges ``floor((nfft + 1) * hz / sr)`` (the library's own construction, not librosa's);
5. ``log`` of the filter energies (0 -> eps), orthonormal DCT-II, keep ``numcep``;
6. sinusoidal liftering ``1 + (L/2) sin(pi n / L)`` with ``L = 22``;
7. ``appendEnergy``: column 0 is replaced by ``log(frame energy)``.

Users: DeepSpeech v0.1 input (numcep 26 on *int16-scaled* samples, :func:`deepspeech_input`), PHADTF
(numcep 13, :func:`mfcc_context_windows`), and SyncNet's LSE metrics (numcep 13).
"""

from __future__ import annotations

import decimal
import math

import numpy as np

from tfk.errors import BadInput

#: MFCC frames per second with the default 10 ms step.
MFCC_RATE = 100.0


def _round_half_up(x: float) -> int:
    return int(decimal.Decimal(x).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP))


def _hz2mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _mel2hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def psf_filterbank(
    nfilt: int = 26, nfft: int = 512, sr: int = 16000, lowfreq: float = 0.0, highfreq: float | None = None
):
    """The ``python_speech_features.get_filterbanks`` matrix ``[nfilt, nfft // 2 + 1]``."""
    highfreq = highfreq or sr / 2
    if highfreq > sr / 2:
        raise ValueError("highfreq is greater than samplerate/2")
    pts = np.floor((nfft + 1) * _mel2hz(np.linspace(_hz2mel(lowfreq), _hz2mel(highfreq), nfilt + 2)) / sr)
    bins = np.arange(nfft // 2 + 1, dtype=np.float64)[None, :]
    lo, mid, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where((bins >= lo) & (bins < mid), (bins - lo) / (mid - lo), 0.0)
        fall = np.where((bins >= mid) & (bins < hi), (hi - bins) / (hi - mid), 0.0)
    return rise + fall


def _dct_ortho_matrix(n: int, k: int) -> np.ndarray:
    """First ``k`` rows of the orthonormal DCT-II matrix of size ``n`` (scipy ``dct(type=2, norm='ortho')``)."""
    i = np.arange(n, dtype=np.float64)[None, :]
    kk = np.arange(k, dtype=np.float64)[:, None]
    m = np.cos(np.pi * kk * (2.0 * i + 1.0) / (2.0 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


def mfcc(
    signal: np.ndarray,
    sr: int = 16000,
    *,
    winlen: float = 0.025,
    winstep: float = 0.01,
    numcep: int = 13,
    nfilt: int = 26,
    nfft: int = 512,
    lowfreq: float = 0.0,
    highfreq: float | None = None,
    preemph: float = 0.97,
    ceplifter: int = 22,
    append_energy: bool = True,
    block_frames: int = 4000,
) -> np.ndarray:
    """``python_speech_features.mfcc`` equivalent: ``[M, numcep]`` float64 at ``1 / winstep`` frames/s.

    The scale of ``signal`` matters (it shifts column 0 and, with ``append_energy``, the energy column):
    the originals feed int16-valued samples to DeepSpeech and [-1, 1] floats (librosa) to PHADTF.
    """
    sig = np.asarray(signal)
    if sig.ndim != 1:
        raise BadInput(f"expected mono audio (1-D samples), got shape {tuple(sig.shape)}")
    if sig.size == 0:
        raise BadInput("the audio holds no samples")
    # Pre-emphasis runs in the input's float precision (float32 stays float32, as in the library); ints -> float64.
    sig = sig if np.issubdtype(sig.dtype, np.floating) else sig.astype(np.float64)
    sig = np.concatenate([sig[:1], sig[1:] - sig.dtype.type(preemph) * sig[:-1]]).astype(np.float64)
    flen = _round_half_up(winlen * sr)
    fstep = _round_half_up(winstep * sr)
    n = sig.size
    nframes = 1 if n <= flen else 1 + math.ceil((n - flen) / fstep)
    padded = np.zeros((nframes - 1) * fstep + flen)
    padded[:n] = sig
    frames = np.lib.stride_tricks.sliding_window_view(padded, flen)[::fstep][:nframes]  # a view: no copy
    if flen > nfft:  # the library truncates frames to nfft (with a warning)
        frames = frames[:, :nfft]
    eps = np.finfo(float).eps
    fbank = psf_filterbank(nfilt, nfft, sr, lowfreq, highfreq).T
    dct = _dct_ortho_matrix(nfilt, numcep).T
    cep = np.empty((nframes, numcep))
    energy = np.empty(nframes)
    for a in range(0, nframes, block_frames):  # bounded working memory: only [M, numcep] grows with length
        pspec = np.square(np.abs(np.fft.rfft(frames[a : a + block_frames], nfft))) / nfft
        e = pspec.sum(axis=1)
        energy[a : a + block_frames] = np.where(e == 0, eps, e)
        feat = pspec @ fbank
        cep[a : a + block_frames] = np.log(np.where(feat == 0, eps, feat)) @ dct
    if ceplifter > 0:
        cep = cep * (1.0 + (ceplifter / 2.0) * np.sin(np.pi * np.arange(numcep) / ceplifter))
    if append_energy:
        cep[:, 0] = np.log(energy)
    return cep


# --- DeepSpeech v0.1 input featurisation ---------------------------------------------------------------

DS_NUMCEP = 26
DS_CONTEXT = 9
#: Time steps per second of the DeepSpeech v0.1 input/logits (every 2nd MFCC frame).
DS_RATE = 50.0


def deepspeech_input(signal_int16: np.ndarray, sr: int = 16000, numcep: int = DS_NUMCEP, numcontext: int = DS_CONTEXT):
    """Mozilla DeepSpeech v0.1 ``audioToInputVector``: ``[T50, (2*9+1) * 26 = 494]`` float64 at 50 steps/s.

    MFCC (numcep 26, library defaults) on the int16-valued samples, every 2nd frame kept (``[::2]``: the
    BiRNN stride), ``numcontext`` zero rows padded at each end, each step flattened with its 9 past and 9
    future steps (past first), then whitened with the *scalar* mean and std of the whole matrix.
    ``T50 = ceil(M / 2)`` with ``M = 1 + ceil((N - 400) / 160)``.
    """
    feats = mfcc(np.asarray(signal_int16), sr, numcep=numcep)[::2]
    t = feats.shape[0]
    ctx = np.zeros((numcontext, numcep), dtype=feats.dtype)
    padded = np.concatenate([ctx, feats, ctx])
    win = 2 * numcontext + 1
    x = np.lib.stride_tricks.sliding_window_view(padded, (win, numcep))[:t, 0].reshape(t, win * numcep)
    x = np.array(x)
    std = x.std()
    if std == 0:
        raise BadInput("the audio is digital silence: DeepSpeech input cannot be normalised")
    return (x - x.mean()) / std


# --- MFCC context windows (PHADTF's audio input) -----------------------------------------------------

MFCC_CONTEXT_PAD = 1920  # 0.12 s at 16 kHz, added at both ends
MFCC_CONTEXT_WINDOW = 28  # MFCC frames (280 ms) per video frame


def mfcc_context_windows(wav: np.ndarray, sr: int = 16000) -> np.ndarray:
    """PHADTF ``[T, 28, 12]``: 13-coefficient MFCC (float samples) of the wav padded by 1920 zeros per side.

    Video frame j reads MFCC rows ``[4j, 4j + 28)`` without column 0 (energy) -- with the padding that is
    video frames j-3 .. j+3. The originals loop ``ind = 3 .. floor(M/4) - 4`` (inclusive) with ``j = ind - 3``,
    so ``T = floor(M / 4) - 6`` (about 25 per second). The window assumes 25 fps.
    """
    wav = np.asarray(wav, dtype=np.float64)
    m = mfcc(np.concatenate([np.zeros(MFCC_CONTEXT_PAD), wav, np.zeros(MFCC_CONTEXT_PAD)]), sr, winstep=0.01)
    t = m.shape[0] // 4 - 6
    if t <= 0:
        raise BadInput(f"audio too short for PHADTF MFCC windows ({wav.size} samples)")
    idx = 4 * np.arange(t)[:, None] + np.arange(MFCC_CONTEXT_WINDOW)[None, :]
    return m[idx, 1:]
