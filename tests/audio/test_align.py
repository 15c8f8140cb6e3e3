from __future__ import annotations

import math

import numpy as np
import pytest

from tfk.audio.align import (
    adnerf_n_frames,
    adnerf_windows,
    align_to_frames,
    centred_windows,
    ernerf_hubert_layout,
    every_second_step,
    frame_rows,
    unfold_windows,
)
from tfk.errors import BadInput


def _seq(t: int, c: int = 3) -> np.ndarray:
    return np.arange(t * c, dtype=np.float64).reshape(t, c) + 1.0  # no zero rows, so zero padding is visible


def test_start_anchored_rows():
    np.testing.assert_array_equal(frame_rows(5, 50, 25), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(frame_rows(6, 80, 25), [0, 3, 6, 9, 12, 16])  # floor(3.2 i)
    np.testing.assert_array_equal(frame_rows(4, 100, 25), [0, 4, 8, 12])


def test_align_single_rows_and_edge_padding():
    x = _seq(10)
    out = align_to_frames(x, 50, 7, fps=25)  # needs rows 0..12, only 10 exist
    np.testing.assert_array_equal(out[:5], x[[0, 2, 4, 6, 8]])
    np.testing.assert_array_equal(out[5:], x[[9, 9]])  # edge padded past the end
    z = align_to_frames(x, 50, 7, fps=25, window=1, offset=0, pad="zero")
    assert z.shape == (7, 1, 3) and not z[5:].any()


def test_align_windows_centred_by_default():
    x = _seq(20)
    w = align_to_frames(x, 25, 20, window=5)
    assert w.shape == (20, 5, 3)
    np.testing.assert_array_equal(w[10], x[8:13])
    np.testing.assert_array_equal(w[0], x[[0, 0, 0, 1, 2]])
    wz = align_to_frames(x, 25, 20, window=5, pad="zero")
    np.testing.assert_array_equal(wz[0, 2:], x[0:3])
    assert not wz[0, :2].any()


def test_every_second_step_and_5_frame_centred_windows():
    logits = _seq(51, 29)
    ds = every_second_step(logits)
    assert ds.shape == (26, 29)
    np.testing.assert_array_equal(ds, logits[0::2])
    win = centred_windows(ds)
    assert win.shape == (26, 29, 5)
    padded = np.pad(ds, ((2, 2), (0, 0)), mode="edge")  # the original np.pad(..., 'edge') then [i:i+5].T
    for i in range(26):
        np.testing.assert_array_equal(win[i], padded[i : i + 5].T)
    # min(n_video, n_audio): the surplus audio tail is dropped, no shift
    np.testing.assert_array_equal(centred_windows(ds, n_frames=23), win[:23])


def _adnerf_reference(logits50: np.ndarray, n_samples: int) -> np.ndarray:
    """The AD-NeRF procedure as loops: interp to round(50 dur), size-1 windows, pad 8, 16-wide stride-2 windows."""
    n_out = round(n_samples / 16000 * 50)
    t_in = np.arange(len(logits50)) / 50.0
    t_out = np.arange(n_out) / 50.0
    interp = np.stack([np.interp(t_out, t_in, logits50[:, c]) for c in range(logits50.shape[1])], 1)
    ones = [interp[i : i + 1] for i in range(0, interp.shape[0] - 1, 1)]
    rows = np.array(ones).reshape(-1, logits50.shape[1])
    pad = np.zeros((8, rows.shape[1]))
    rows = np.concatenate([pad, rows, pad])
    return np.array([rows[k : k + 16] for k in range(0, rows.shape[0] - 16, 2)])


@pytest.mark.parametrize("seconds,expected", [(3.0, 75), (8.0, 200), (2.99, 75), (1.013, 25)])
def test_adnerf_windows_match_reference(seconds, expected):
    n = round(seconds * 16000)
    t50 = math.ceil((1 + math.ceil((n - 400) / 160)) / 2)  # DeepSpeech v0.1 step count
    logits = np.random.default_rng(0).standard_normal((t50, 29))
    ours = adnerf_windows(logits, n)
    assert ours.shape == (expected, 16, 29) and adnerf_n_frames(n) == expected
    np.testing.assert_allclose(ours, _adnerf_reference(logits, n))
    # window k is centred on video frame k: rows 2k-8 .. 2k+7 of the 50 Hz sequence
    np.testing.assert_allclose(ours[10, 8], logits[20])


def test_adnerf_short_logits_are_edge_extended_by_interp():
    logits = _seq(90, 29)  # 2 s of audio would need 100 rows at 50 Hz
    out = adnerf_windows(logits, 32000)
    assert out.shape == (50, 16, 29)
    np.testing.assert_allclose(out[-1, 8], logits[-1])  # np.interp holds the last value


def test_unfold_layout_equals_torch_unfold():
    torch = pytest.importorskip("torch")
    for m in (37, 40):
        x = np.random.default_rng(m).standard_normal((m, 7)).astype(np.float32)
        ref = torch.nn.functional.unfold(
            torch.from_numpy(x.T.copy())[None, :, :, None], kernel_size=(16, 1), padding=(8, 0), stride=(2, 1)
        )  # [1, C*16, L]
        ref = ref.reshape(7, 16, -1).permute(2, 1, 0).numpy()
        ours = unfold_windows(x)
        assert ours.shape == (m // 2 + 1, 16, 7)
        np.testing.assert_allclose(ours, ref)
    # one more window than AD-NeRF's loop for an even number of rows
    assert unfold_windows(np.ones((40, 2))).shape[0] == math.ceil(40 / 2) + 1


def test_ernerf_att_window_convention():
    x = _seq(30, 4)
    w = align_to_frames(x, 25, 30, window=8, offset=-4, pad="zero")  # rows [i-4, i+4)
    np.testing.assert_array_equal(w[10], x[6:14])
    assert not w[0, :4].any() and not w[29, 5:].any()


def test_ernerf_hubert_layout_trims_odd_lengths():
    x = _seq(399, 8)
    out = ernerf_hubert_layout(x)
    assert out.shape == (199, 2, 8)
    np.testing.assert_array_equal(out[5], x[10:12])


def test_empty_features_raise_tfk_error():
    with pytest.raises(BadInput):
        align_to_frames(np.zeros((0, 3)), 50, 10)
