"""Differentiable DFRF ray rendering for training (the module path of the original ``render_rays``)."""

from __future__ import annotations

import torch

from tfk_dfrf.models.dfrf import DFRF
from tfk_dfrf.models.embed import posenc
from tfk_dfrf.models.reference import sample_features
from tfk_dfrf.render.geometry import clamp_pixels, project
from tfk_dfrf.render.volume import composite, linear_z, sample_pdf, stratify


def _query(model: DFRF, net, pts, viewdirs, aud, fmap, w2c, intrinsic, gen):
    r, h, w, c = fmap.shape
    flat = pts.reshape(-1, 3)
    pe = posenc(flat, 10)
    idx = torch.round(project(flat, w2c, intrinsic, h, w)).long()
    offs = (torch.arange(r, device=flat.device) * h * w)[:, None]
    near = (
        fmap.detach().reshape(-1, c).index_select(0, (idx[..., 0] * w + idx[..., 1] + offs).reshape(-1)).view(r, -1, c)
    )
    shift = model.position_warp(pe.expand(r, -1, -1), aud.detach(), near)
    pix = clamp_pixels(idx + shift, h, w)
    feat = sample_features(fmap.permute(0, 3, 1, 2), pix, h)
    local = torch.cat((feat, pix.int().to(feat.dtype)), -1)
    dirs = posenc(viewdirs[:, None].expand(pts.shape).reshape(-1, 3), 4)
    inputs = torch.cat((pe, aud.expand(flat.shape[0], -1), dirs), -1)
    raw = net(inputs, local, noise=True, generator=gen)
    return raw.view(*pts.shape[:-1], 4), (shift**2).mean(0).mean(-1)


def render_rays_train(
    model: DFRF,
    fmap: torch.Tensor,
    w2c: torch.Tensor,
    intrinsic: torch.Tensor,
    rays_o: torch.Tensor,
    rays_d: torch.Tensor,
    bc: torch.Tensor,
    aud: torch.Tensor,
    near: float,
    far: float,
    n_samples: int,
    n_importance: int,
    gen: torch.Generator | None = None,
    perturb: bool = True,
) -> dict[str, torch.Tensor]:
    """Coarse + fine colours of a ray batch and the warp regulariser ``loss_translation`` (original weighting)."""
    n = rays_o.shape[0]
    viewdirs = rays_d / torch.norm(rays_d, dim=-1, keepdim=True)
    z = linear_z(near, far, n_samples, n, dtype=rays_o.dtype, device=rays_o.device)
    if perturb:
        z = stratify(z, gen)
    pts = rays_o[:, None] + rays_d[:, None] * z[..., None]
    raw, trans = _query(model, model.coarse, pts, viewdirs, aud, fmap, w2c, intrinsic, gen)
    coarse = composite(raw, z, rays_d, bc)
    out = {"rgb0": coarse["rgb"], "rgb": coarse["rgb"]}
    if n_importance > 0:
        with torch.no_grad():
            mids = 0.5 * (z[..., 1:] + z[..., :-1])
            zs = sample_pdf(mids, coarse["weights"][..., 1:-1], n_importance, det=not perturb, generator=gen)
        z, _ = torch.sort(torch.cat([z, zs], -1), -1)
        pts = rays_o[:, None] + rays_d[:, None] * z[..., None]
        raw, trans = _query(model, model.fine, pts, viewdirs, aud, fmap, w2c, intrinsic, gen)
        fine = composite(raw, z, rays_d, bc)
        out["rgb"] = fine["rgb"]
        weights = fine["weights"]
    else:
        weights = coarse["weights"]
    damp = 1 - torch.clamp((weights * z).detach(), max=1.0).reshape(-1)
    out["loss_translation"] = torch.mean(trans * damp)
    return out
