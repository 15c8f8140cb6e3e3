"""DFRF compositing (background as the last, opaque sample) and inverse-CDF importance sampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_z(near: float, far: float, n_samples: int, n_rays: int, dtype=torch.float32, device=None) -> torch.Tensor:
    t = torch.linspace(0.0, 1.0, steps=n_samples, dtype=dtype, device=device)
    return (near * (1.0 - t) + far * t).expand(n_rays, n_samples)


def stratify(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Training-time jitter of ``z`` inside its intervals (the last sample stays at ``far``)."""
    mids = 0.5 * (z[..., 1:] + z[..., :-1])
    upper = torch.cat([mids, z[..., -1:]], -1)
    lower = torch.cat([z[..., :1], mids], -1)
    t = torch.rand(z.shape, generator=generator, dtype=z.dtype, device=z.device)
    t[..., -1] = 1.0
    return lower + (upper - lower) * t


def alpha_weights(raw_sigma: torch.Tensor, z: torch.Tensor, rays_d: torch.Tensor) -> torch.Tensor:
    """Weights ``α·T``; ``dist = 1e10`` after the last sample, ``α = 1 - exp(-(relu σ + 1e-6)·dist)``."""
    dists = z[..., 1:] - z[..., :-1]
    dists = torch.cat([dists, torch.full_like(dists[..., :1], 1e10)], -1)
    dists = dists * torch.norm(rays_d[..., None, :], dim=-1)
    alpha = 1.0 - torch.exp(-(F.relu(raw_sigma) + 1e-6) * dists)
    ones = torch.ones_like(alpha[:, :1])
    return alpha * torch.cumprod(torch.cat([ones, 1.0 - alpha + 1e-10], -1), -1)[:, :-1]


def composite(
    raw: torch.Tensor, z: torch.Tensor, rays_d: torch.Tensor, bc_rgb: torch.Tensor, white_bkgd: bool = True
) -> dict[str, torch.Tensor]:
    """The original ``raw2outputs``: the last sample's colour is the background pixel ``bc_rgb``.

    Returns ``rgb`` (final colour), ``fg`` (Σ of the non-last samples' weighted colours), ``w_last``, ``acc``,
    ``weights`` and ``depth``; ``rgb = fg + w_last·bc + (1 - acc)·white_bkgd``.
    """
    weights = alpha_weights(raw[..., 3], z, rays_d)
    rgb = torch.sigmoid(raw[..., :3])
    fg = torch.sum(weights[:, :-1, None] * rgb[:, :-1], -2)
    w_last = weights[:, -1]
    acc = weights.sum(-1)
    out = fg + w_last[:, None] * bc_rgb
    if white_bkgd:
        out = out + (1.0 - acc[:, None])
    return {"rgb": out, "fg": fg, "w_last": w_last, "acc": acc, "weights": weights, "depth": (weights * z).sum(-1)}


def sample_pdf(
    bins: torch.Tensor, weights: torch.Tensor, n: int, det: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inverse-CDF sampling of ``n`` depths per ray from piecewise-constant ``weights`` on ``bins`` (original rules)."""
    weights = weights + 1e-5
    pdf = weights / torch.sum(weights, -1, keepdim=True)
    cdf = torch.cumsum(pdf, -1)
    cdf = torch.cat([torch.zeros_like(cdf[..., :1]), cdf], -1)
    if det:
        u = torch.linspace(0.0, 1.0, steps=n, dtype=bins.dtype, device=bins.device).expand(*cdf.shape[:-1], n)
    else:
        u = torch.rand(*cdf.shape[:-1], n, generator=generator, dtype=bins.dtype, device=bins.device)
    u = u.contiguous()
    inds = torch.searchsorted(cdf, u, right=True)
    below = torch.clamp(inds - 1, min=0)
    above = torch.clamp(inds, max=cdf.shape[-1] - 1)
    g = torch.stack([below, above], -1)
    shape = [g.shape[0], g.shape[1], cdf.shape[-1]]
    cdf_g = torch.gather(cdf.unsqueeze(1).expand(shape), 2, g)
    bins_g = torch.gather(bins.unsqueeze(1).expand(shape), 2, g)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = torch.where(denom < 1e-5, torch.ones_like(denom), denom)
    t = (u - cdf_g[..., 0]) / denom
    return bins_g[..., 0] + t * (bins_g[..., 1] - bins_g[..., 0])
