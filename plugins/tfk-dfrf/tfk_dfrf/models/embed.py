"""NeRF positional encoding ``[x, sin(2^0 x), cos(2^0 x), ..., sin(2^(L-1) x), cos(2^(L-1) x)]``."""

from __future__ import annotations

import torch


def embed_dim(octaves: int, dims: int = 3) -> int:
    return dims * (1 + 2 * octaves)


def posenc(x: torch.Tensor, octaves: int) -> torch.Tensor:
    """Encode the last axis of ``x`` with ``octaves`` log-spaced frequencies (DFRF: 10 points, 4 views, 5 images)."""
    freqs = 2.0 ** torch.linspace(0.0, octaves - 1, octaves, dtype=x.dtype, device=x.device)
    xf = x[..., None, :] * freqs[:, None]  # [..., L, D]
    sc = torch.stack((torch.sin(xf), torch.cos(xf)), dim=-2)  # [..., L, 2, D]
    return torch.cat((x, sc.flatten(-3)), dim=-1)
