"""A faithful re-statement of the original DFRF test-time sampling loop (the reference ``exact`` must equal).

It follows ``render_dynamic_face_new`` -> ``batchify_rays`` -> ``render_rays`` -> ``run_network`` ->
``gather_indices`` -> ``nerf_attention_model`` -> ``raw2outputs`` of sstzal/DFRF step by step: the reference
feature maps are re-computed for every frame, rays go in chunks of ``chunk`` rays, each reference is warped
in its own call, the coarse and the fine pass each evaluate everything from scratch. Only the CUDA default
tensor type, anomaly detection and the ``pdb`` fallback are left out (they change no number).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tfk_dfrf.models.dfrf import DFRF
from tfk_dfrf.models.embed import posenc
from tfk_dfrf.render.geometry import frame_grid, intrinsic_matrix, pixel_rays, project, world_to_camera
from tfk_dfrf.render.volume import sample_pdf


def _raw2outputs(raw, z_vals, rays_d, bc_rgb, white_bkgd=True):
    dists = z_vals[..., 1:] - z_vals[..., :-1]
    dists = torch.cat([dists, torch.tensor([1e10], device=dists.device).expand(dists[..., :1].shape)], -1)
    dists = dists * torch.norm(rays_d[..., None, :], dim=-1)
    rgb = torch.sigmoid(raw[..., :3])
    rgb = torch.cat((rgb[:, :-1, :], bc_rgb.unsqueeze(1)), dim=1)
    alpha = 1.0 - torch.exp(-(F.relu(raw[..., 3]) + 1e-6) * dists)
    weights = (
        alpha
        * torch.cumprod(torch.cat([torch.ones((alpha.shape[0], 1), device=alpha.device), 1.0 - alpha + 1e-10], -1), -1)[
            :, :-1
        ]
    )
    rgb_map = torch.sum(weights[..., None] * rgb, -2)
    acc_map = torch.sum(weights, -1)
    if white_bkgd:
        rgb_map = rgb_map + (1.0 - acc_map[..., None])
    return rgb_map, weights


def _gather(model, pts, poses, intrinsic, features, aud, n_rays, noise_gen):
    h, w = features.shape[1:3]
    indices = torch.round(project(pts, world_to_camera(poses), intrinsic, h, w)).int().long()
    feats = torch.cat([features[i][indices[i][:, 0], indices[i][:, 1]].unsqueeze(0) for i in range(features.shape[0])])
    pe = posenc(pts, 10)
    translation = torch.stack(
        [model.position_warp(pe, aud.detach(), feats[i].detach()) for i in range(features.shape[0])]
    )
    indices = indices + translation
    dev = pts.device
    hi, lo = torch.tensor([h - 1.0, w - 1.0], device=dev), torch.tensor([0.0, 0.0], device=dev)
    indices = torch.maximum(torch.minimum(indices, hi), lo)
    grid = (2 * indices + 1) / h - 1
    grid = grid.reshape(grid.shape[0], n_rays, -1, grid.shape[2])
    grid = torch.cat((grid[:, :, :, 1].unsqueeze(-1), grid[:, :, :, 0].unsqueeze(-1)), -1)
    sampled = F.grid_sample(features.permute(0, 3, 1, 2), grid, padding_mode="border", align_corners=False)
    sampled = sampled.reshape(features.shape[0], 128, -1).permute(0, 2, 1)
    return torch.cat((sampled, indices.int().float()), -1)


def _run_network(model, net, pts, viewdirs, aud, poses, intrinsic, features, noise, gen):
    flat = pts.reshape(-1, 3)
    embedded = torch.cat((posenc(flat, 10), aud.unsqueeze(0).expand(flat.shape[0], -1)), -1)
    dirs = viewdirs[:, None].expand(pts.shape).reshape(-1, 3)
    embedded = torch.cat([embedded, posenc(dirs, 4)], -1)
    local = _gather(model, flat, poses, intrinsic, features, aud, pts.shape[0], gen)
    raw = net(embedded, local, noise=noise, generator=gen)
    return raw.reshape(*pts.shape[:-1], raw.shape[-1])


@torch.no_grad()
def render_frame_original(
    model: DFRF,
    c2w: torch.Tensor,
    aud: torch.Tensor,
    bc: torch.Tensor,
    ref_images: torch.Tensor,
    ref_poses: torch.Tensor,
    focal: float,
    cx: float,
    cy: float,
    near: float,
    far: float,
    n_samples: int = 32,
    n_importance: int = 64,
    chunk: int = 1024,
    noise: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One ``[H, W, 3]`` frame, computed as the original does at test time (``perturb=0``, deterministic pdf)."""
    h, w = bc.shape[:2]
    cols, rows = frame_grid(h, w, device=bc.device)
    rays_o, rays_d = pixel_rays(c2w, focal, cx, cy, cols, rows)
    viewdirs = rays_d / torch.norm(rays_d, dim=-1, keepdim=True)
    rays_o, rays_d, viewdirs = rays_o.reshape(-1, 3), rays_d.reshape(-1, 3), viewdirs.reshape(-1, 3)
    bc_flat = bc.reshape(-1, 3)
    intrinsic = intrinsic_matrix(focal, h, w)
    features = model.feature_extractor.encode(ref_images, ref_poses)  # re-computed for every frame
    out = []
    for i in range(0, rays_o.shape[0], chunk):
        ro, rd, vd, bcc = rays_o[i : i + chunk], rays_d[i : i + chunk], viewdirs[i : i + chunk], bc_flat[i : i + chunk]
        n = ro.shape[0]
        t = torch.linspace(0.0, 1.0, steps=n_samples, device=bc.device)
        z = (near * (1.0 - t) + far * t).expand([n, n_samples])
        pts = ro[..., None, :] + rd[..., None, :] * z[..., :, None]
        raw = _run_network(model, model.coarse, pts, vd, aud, ref_poses, intrinsic, features, noise, generator)
        rgb, weights = _raw2outputs(raw, z, rd, bcc)
        if n_importance > 0:
            mids = 0.5 * (z[..., 1:] + z[..., :-1])
            zs = sample_pdf(mids, weights[..., 1:-1], n_importance, det=True)
            z, _ = torch.sort(torch.cat([z, zs], -1), -1)
            pts = ro[..., None, :] + rd[..., None, :] * z[..., :, None]
            raw = _run_network(model, model.fine, pts, vd, aud, ref_poses, intrinsic, features, noise, generator)
            rgb, _ = _raw2outputs(raw, z, rd, bcc)
        out.append(rgb)
    return torch.cat(out, 0).reshape(h, w, 3)
