"""Ray marching and compositing with padded ``[N, S]`` tensors.

Both marchers place candidate samples on the same lattice ``t_k = near + (j + k) dt`` (``j`` = per-ray
jitter in [0, 1), 0 at test) while ``t_k < far``. The **occupancy** marcher keeps only candidates in occupied
cells of the bitfield and at most ``max_steps`` of them per ray (the original spends its 16 samples on
occupied cells only); the **uniform** marcher keeps every candidate. With an all-occupied grid and
``max_steps`` at least the candidate count they return the same samples, hence the same image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tfk_ernerf.render.occupancy import occupied_at

T_THRESH = 1e-4


def step_size(grid_size: int = 128, cascade: int = 1) -> float:
    """``dt_max = 2 sqrt(3) 2^(C-1) / G`` (with the defaults every step has this size)."""
    return 2 * math.sqrt(3) * 2 ** (cascade - 1) / grid_size


@dataclass
class Samples:
    t: torch.Tensor  # [N, S] sample positions along each ray
    mask: torch.Tensor  # [N, S] bool
    dt: float

    @property
    def count(self) -> int:
        return int(self.mask.sum())


def _lattice(near: torch.Tensor, far: torch.Tensor, dt: float, jitter: torch.Tensor | None, cap: int):
    hit = near < far
    span = (far - near).masked_fill(~hit, 0)
    k = math.ceil(float(span.max()) / dt) if hit.any() else 0
    k = max(1, min(k, cap))
    j = jitter if jitter is not None else torch.zeros_like(near)
    t = near[:, None] + (j[:, None] + torch.arange(k, device=near.device, dtype=near.dtype)[None]) * dt
    return t, (t < far[:, None]) & hit[:, None]


def march_uniform(
    near: torch.Tensor, far: torch.Tensor, dt: float, jitter: torch.Tensor | None = None, cap: int = 4096
) -> Samples:
    """Every lattice point between near and far (the dense reference)."""
    t, mask = _lattice(near, far, dt, jitter, cap)
    return Samples(t, mask, dt)


def march_occupancy(
    rays_o: torch.Tensor,
    rays_d: torch.Tensor,
    near: torch.Tensor,
    far: torch.Tensor,
    bitfield: torch.Tensor,
    grid_size: int,
    bound: float,
    dt: float,
    max_steps: int = 16,
    jitter: torch.Tensor | None = None,
    cap: int = 4096,
) -> Samples:
    """Lattice points in occupied cells, the first ``max_steps`` per ray, packed to the left of ``[N, S]``."""
    t, mask = _lattice(near, far, dt, jitter, cap)
    n, k = t.shape
    if mask.any():
        xyz = rays_o[:, None] + rays_d[:, None] * t[..., None]
        m = mask.reshape(-1).clone()
        m[m.clone()] = occupied_at(xyz.reshape(-1, 3)[m], bitfield, grid_size, bound)
        mask = m.reshape(n, k)
    rank = mask.cumsum(dim=1) - 1
    mask = mask & (rank < max_steps)
    s = max(1, int(mask.sum(dim=1).max()) if mask.any() else 1)
    out_t = torch.zeros(n, s, dtype=t.dtype, device=t.device)
    out_m = torch.zeros(n, s, dtype=torch.bool, device=t.device)
    rows = torch.arange(n, device=t.device)[:, None].expand(n, k)[mask]
    cols = rank[mask]
    out_t[rows, cols] = t[mask]
    out_m[rows, cols] = True
    return Samples(out_t, out_m, dt)


def composite(
    sigma: torch.Tensor, rgb: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, dt: float
) -> dict[str, torch.Tensor]:
    """``alpha = 1 - exp(-sigma dt)``, ``w = alpha T``; samples after ``T < 1e-4`` are dropped.

    ``sigma`` ``[N,S]``, ``rgb`` ``[N,S,3]``; returns ``weights [N,S]``, ``weights_sum``, ``depth``, ``image``.
    """
    alpha = (1 - torch.exp(-sigma * dt)) * mask
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha[:, :-1] + 1e-15], dim=1), dim=1)
    w = alpha * trans * (trans >= T_THRESH)
    return {
        "weights": w,
        "weights_sum": w.sum(dim=1),
        "depth": (w * t).sum(dim=1),
        "image": (w[..., None] * rgb).sum(dim=1),
    }
