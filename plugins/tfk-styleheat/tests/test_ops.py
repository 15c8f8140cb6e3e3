"""Plain-PyTorch upfirdn2d and fused leaky ReLU against direct loop computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tfk_styleheat.models.ops import FusedLeakyReLU, fused_leaky_relu, make_kernel, upfirdn2d


def reference_upfirdn2d(x: np.ndarray, k: np.ndarray, up: int, down: int, pad: tuple[int, int, int, int]) -> np.ndarray:
    """Zero-insert, pad (negative = crop), true convolution by explicit sums, keep every down-th sample."""
    px0, px1, py0, py1 = pad
    b, c, h, w = x.shape
    u = np.zeros((b, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    big = np.zeros((b, c, h * up + max(py0, 0) + max(py1, 0), w * up + max(px0, 0) + max(px1, 0)))
    big[:, :, max(py0, 0) : max(py0, 0) + h * up, max(px0, 0) : max(px0, 0) + w * up] = u
    big = big[:, :, max(-py0, 0) : big.shape[2] - max(-py1, 0), max(-px0, 0) : big.shape[3] - max(-px1, 0)]
    kh, kw = k.shape
    oh, ow = big.shape[2] - kh + 1, big.shape[3] - kw + 1
    out = np.zeros((b, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            acc = 0.0
            for a in range(kh):
                for bb in range(kw):  # convolution: kernel index runs backwards over the window
                    acc = acc + big[:, :, i + a, j + bb] * k[kh - 1 - a, kw - 1 - bb]
            out[:, :, i, j] = acc
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize(
    ("up", "down", "pad"),
    [(1, 1, (1, 1, 1, 1)), (2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)), (2, 2, (0, 0, 0, 0)), (1, 1, (-1, 2, 0, -1))],
)
def test_upfirdn2d_matches_direct_convolution(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    k = rng.standard_normal((4, 3))  # asymmetric, so a missing flip would fail
    got = upfirdn2d(torch.tensor(x, dtype=torch.float64), torch.tensor(k, dtype=torch.float64), up, down, pad)
    np.testing.assert_allclose(got.numpy(), reference_upfirdn2d(x, k, up, down, pad), rtol=1e-10, atol=1e-10)


def test_upsample_kernel_preserves_a_constant_image():
    k = make_kernel((1, 3, 3, 1)) * 4
    x = torch.ones(1, 1, 8, 8)
    y = upfirdn2d(x, k, up=2, pad=(2, 1))
    assert y.shape[-2:] == (16, 16)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def test_fused_leaky_relu_matches_formula():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3, 3))
    b = rng.standard_normal(5)
    xb = x + b[None, :, None, None]
    ref = np.where(xb >= 0, xb, 0.2 * xb) * math.sqrt(2)
    got = fused_leaky_relu(torch.tensor(x), torch.tensor(b))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    m = FusedLeakyReLU(5)
    assert list(m.state_dict()) == ["bias"] and m.bias.shape == (5,)
    x2 = torch.tensor(rng.standard_normal((4, 5)))  # 2-D input (EqualLinear with activation)
    np.testing.assert_allclose(
        fused_leaky_relu(x2, torch.zeros(5, dtype=torch.float64)).numpy(),
        np.where(x2.numpy() >= 0, x2.numpy(), 0.2 * x2.numpy()) * math.sqrt(2),
    )
