from __future__ import annotations

import math

import numpy as np
import pytest

from tfk.audio.io import to_int16
from tfk.audio.mfcc import deepspeech_input, mfcc, mfcc_context_windows, psf_filterbank

psf = pytest.importorskip("python_speech_features")


def test_filterbank_equals_python_speech_features():
    for nfilt, nfft, sr in [(26, 512, 16000), (40, 1024, 44100), (20, 256, 8000)]:
        np.testing.assert_array_equal(psf_filterbank(nfilt, nfft, sr), psf.base.get_filterbanks(nfilt, nfft, sr))


@pytest.mark.parametrize("numcep", [13, 26])
def test_mfcc_matches_python_speech_features_on_real_speech(speech, numcep):
    for sig in (speech, to_int16(speech)):  # PHADTF feeds floats, DeepSpeech int16 values
        ref = psf.mfcc(sig, 16000, numcep=numcep)
        ours = mfcc(sig, 16000, numcep=numcep)
        assert ours.shape == ref.shape == (799, numcep)
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_mfcc_options_and_short_input_match(speech):
    kw = dict(winlen=0.032, winstep=0.016, nfilt=40, nfft=1024, lowfreq=100, highfreq=7000, preemph=0.9, ceplifter=0)
    ref = psf.mfcc(speech, 16000, numcep=20, appendEnergy=False, **kw)
    np.testing.assert_allclose(mfcc(speech, 16000, numcep=20, append_energy=False, **kw), ref, rtol=1e-9, atol=1e-9)
    short = speech[5000:5300]  # shorter than one window: one zero-padded frame
    np.testing.assert_allclose(mfcc(short), psf.mfcc(short, 16000), rtol=1e-9, atol=1e-9)


def _audio_to_input_vector_reference(sig: np.ndarray) -> np.ndarray:
    """DeepSpeech v0.1 featurisation written as a plain loop over python_speech_features."""
    f = psf.mfcc(sig, samplerate=16000, numcep=26)[::2]
    pad = np.concatenate([np.zeros((9, 26)), f, np.zeros((9, 26))])
    rows = np.array([pad[t : t + 19].reshape(-1) for t in range(len(f))])
    return (rows - rows.mean()) / rows.std()


def test_deepspeech_input_matches_reference_on_real_speech(speech):
    sig = to_int16(speech)
    ours = deepspeech_input(sig)
    assert ours.shape == (400, 494)  # 8 s: M = 799 MFCC frames -> ceil(799 / 2) = 400 steps at 50 Hz
    np.testing.assert_allclose(ours, _audio_to_input_vector_reference(sig), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seconds,expected", [(1.0, 25), (4.0, 100), (10.0, 250)])
def test_dp1_frame_count_formula(seconds, expected, make_speech):
    n = int(seconds * 16000)
    m = 1 + math.ceil((n - 400) / 160)
    x = deepspeech_input(to_int16(make_speech(seconds)))
    assert x.shape[0] == math.ceil(m / 2)
    assert math.ceil(x.shape[0] / 2) == expected  # LawDNet's logits[::2]


def test_float32_wav_is_not_silenced(speech):
    """The originals cast to int16 without scaling; tfk scales floats so features are not those of silence."""
    assert np.abs(to_int16(speech)).max() > 1000


def test_phadtf_windows_match_original_loop(speech):
    padded = np.concatenate([np.zeros(1920), speech, np.zeros(1920)])
    m = psf.mfcc(padded, 16000, winstep=0.01)
    ref, ind = [], 3
    while ind <= int(m.shape[0] / 4) - 4:
        ref.append(m[(ind - 3) * 4 : (ind + 4) * 4, 1:])
        ind += 1
    ours = mfcc_context_windows(speech)
    assert ours.shape == (len(ref), 28, 12) == (199, 28, 12)
    np.testing.assert_allclose(ours, np.array(ref), rtol=1e-9, atol=1e-9)


def test_blockwise_mfcc_equals_one_pass():
    from tfk.audio.mfcc import mfcc

    rng = np.random.default_rng(5)
    sig = (3000 * rng.standard_normal(16000 * 2 + 77)).astype(np.int16)
    np.testing.assert_allclose(mfcc(sig, block_frames=13), mfcc(sig, block_frames=10**9), rtol=0, atol=1e-12)
