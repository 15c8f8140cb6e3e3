"""StyleGAN2's custom CUDA operations in plain PyTorch: ``upfirdn2d`` and the fused bias + leaky ReLU.

``upfirdn2d(x, k, up, down, pad)``: zero-insertion upsampling by ``up``, zero padding (negative pads crop)
``(x0, x1, y0, y1)``, a true 2-D convolution with the FIR kernel ``k`` (flipped correlation), then
keeping every ``down``-th sample. ``fused_leaky_relu``: ``leaky_relu(x + b, 0.2) * sqrt(2)``.
Both match rosinality's native definitions; the tests check them against direct loops.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FusedLeakyReLU", "fused_leaky_relu", "make_kernel", "upfirdn2d"]


def make_kernel(k) -> torch.Tensor:
    """1-D taps -> the normalised separable 2-D kernel (a 2-D list is only normalised)."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad=(0, 0)) -> torch.Tensor:
    """Upsample, FIR-filter and downsample ``x [B,C,H,W]``; ``pad`` is ``(p0, p1)`` or ``(x0, x1, y0, y1)``."""
    if len(pad) == 2:
        pad = (pad[0], pad[1], pad[0], pad[1])
    px0, px1, py0, py1 = (int(p) for p in pad)
    b, c, h, w = x.shape
    if up > 1:
        x = x.reshape(b, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(b, c, h * up, w * up)
    x = F.pad(x, (max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)))
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    kh, kw = kernel.shape
    weight = torch.flip(kernel, (0, 1)).to(x.dtype).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    x = F.conv2d(x, weight, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None, negative_slope: float = 0.2, scale: float = 2**0.5):
    """``leaky_relu(x + bias, negative_slope) * scale`` with the bias broadcast over dim 1."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope) * scale


class FusedLeakyReLU(nn.Module):
    """Per-channel bias + scaled leaky ReLU (state: ``bias [C]``)."""

    def __init__(self, channel: int, bias: bool = True, negative_slope: float = 0.2, scale: float = math.sqrt(2)):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)
