from __future__ import annotations

import numpy as np
import pytest

from tfk.audio import mel as M
from tfk.errors import BadInput


def _wav2lip_reference(wav: np.ndarray, pad_mode: str) -> np.ndarray:
    """The Wav2Lip ``audio.melspectrogram`` recipe written with scipy + librosa (the reference libraries)."""
    librosa = pytest.importorskip("librosa")
    from scipy import signal

    y = signal.lfilter([1, -0.97], [1], wav.astype(np.float64))
    d = librosa.stft(y=y, n_fft=800, hop_length=200, win_length=800, pad_mode=pad_mode)
    basis = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    s = 20 * np.log10(np.maximum(1e-5, basis @ np.abs(d))) - 20
    return np.clip((2 * 4.0) * ((s + 100) / 100) - 4.0, -4.0, 4.0)


@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax", [(16000, 800, 80, 55, 7600), (16000, 512, 40, 0, None), (22050, 1024, 80, 20, 8000)]
)
def test_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")
    ours = M.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_melspectrogram_matches_wav2lip_recipe_on_real_speech(speech, pad_mode):
    ref = _wav2lip_reference(speech, pad_mode)
    ours = M.melspectrogram(speech, pad_mode=pad_mode)
    assert ours.shape == ref.shape == (80, 1 + len(speech) // 200)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-4)
    assert np.ptp(ours) > 4  # real speech spans a good part of [-4, 4]


def test_pad_mode_changes_only_the_edges(speech):
    a = M.melspectrogram(speech, pad_mode="reflect")
    b = M.melspectrogram(speech, pad_mode="constant")
    np.testing.assert_allclose(a[:, 2:-2], b[:, 2:-2], atol=1e-5)
    assert np.abs(a[:, :2] - b[:, :2]).max() > 1e-3


def test_mel_shape_rate_and_range_for_8s(speech8):
    mel = M.melspectrogram(speech8)
    assert mel.shape == (80, 641)  # 1 + 128000 // 200, 80 frames/s
    assert M.MEL_RATE == 80.0
    assert mel.min() >= -4.0 and mel.max() <= 4.0


def test_wav2lip_chunks_for_8s(speech8):
    mel = M.melspectrogram(speech8)
    chunks = M.mel_chunks(mel, fps=25)
    # chunk i starts at int(3.2 i); i = 196 would end at 643 > 641, so 196 regular chunks + 1 tail chunk
    assert chunks.shape == (197, 80, 16)
    for i in (0, 1, 5, 100, 195):
        s = int(i * 80 / 25)
        np.testing.assert_array_equal(chunks[i], mel[:, s : s + 16])
    np.testing.assert_array_equal(chunks[-1], mel[:, -16:])


def test_sadtalker_windows_truncate_toward_zero_and_clamp(speech8):
    wav = M.trim_to_whole_frames(speech8[:-100])  # 127900 samples -> 199 whole frames
    assert M.whole_frames(len(speech8) - 100) == 199 and len(wav) == 199 * 640
    mel = M.melspectrogram(wav)
    win = M.mel_lookback_windows(mel, 199)
    assert win.shape == (199, 80, 16)
    # frame 0 starts at int(-6.4) = -6: six copies of row 0, then rows 0..9
    np.testing.assert_array_equal(win[0], mel[:, [0] * 6 + list(range(10))])
    # frame 1 starts at int(-3.2) = -3 (floor would give -4)
    np.testing.assert_array_equal(win[1], mel[:, [0] * 3 + list(range(13))])
    np.testing.assert_array_equal(win[5], mel[:, 9:25])  # int(80 * 3 / 25) = 9
    last = int(80 * 196 / 25)
    np.testing.assert_array_equal(win[198], mel[:, np.minimum(np.arange(last, last + 16), mel.shape[1] - 1)])


def test_bad_input_is_a_tfk_error():
    with pytest.raises(BadInput):
        M.melspectrogram(np.zeros((2, 100), np.float32))
    with pytest.raises(BadInput):
        M.melspectrogram(np.zeros(0, np.float32))


def test_load_real_wav_through_media_layer(speech_wav_path, speech):
    from tfk.audio import load

    x = load(speech_wav_path, sr=16000)
    assert x.dtype == np.float32 and x.ndim == 1 and len(x) == 128000
    np.testing.assert_allclose(x, speech, atol=1e-4)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_blockwise_mel_equals_one_stft(pad_mode):
    """Block-by-block frames (bounded memory) give exactly the values of one centred STFT."""
    import torch

    from tfk.audio.mel import HOP, N_FFT, melspectrogram

    rng = np.random.default_rng(3)
    wav = (0.3 * rng.standard_normal(16000 * 3 + 123)).astype(np.float32)
    blocks = melspectrogram(wav, pad_mode=pad_mode, block_frames=37)
    whole = melspectrogram(wav, pad_mode=pad_mode, block_frames=10**9)
    assert blocks.shape == (80, 1 + len(wav) // HOP)
    np.testing.assert_array_equal(blocks, whole)
    x = torch.as_tensor(wav, dtype=torch.float64)
    x = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])
    ref = torch.stft(
        x,
        N_FFT,
        HOP,
        N_FFT,
        torch.hann_window(N_FFT, dtype=torch.float64),
        center=True,
        pad_mode=pad_mode,
        return_complex=True,
    ).abs()
    assert ref.shape[1] == blocks.shape[1]
