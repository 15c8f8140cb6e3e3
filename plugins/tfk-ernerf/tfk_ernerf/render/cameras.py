"""Cameras: transforms-json poses to the NeRF frame, per-pixel rays, slab near/far against the scene box."""

from __future__ import annotations

import torch


def nerf_matrix_to_ngp(pose: torch.Tensor, scale: float = 4.0, offset: tuple[float, float, float] = (0, 0, 0)):
    """``[..., 4, 4]`` OpenGL camera-to-world -> the ER-NeRF frame: rows (1, 2, 0), columns 1-2 negated, t * scale."""
    p = pose
    new = torch.zeros_like(p)
    for row, src in enumerate((1, 2, 0)):
        new[..., row, 0] = p[..., src, 0]
        new[..., row, 1] = -p[..., src, 1]
        new[..., row, 2] = -p[..., src, 2]
        new[..., row, 3] = p[..., src, 3] * scale + offset[row]
    new[..., 3, 3] = 1
    return new


def pixel_directions(
    intrinsics: tuple[float, float, float, float], h: int, w: int, inds: torch.Tensor | None = None
) -> torch.Tensor:
    """Camera-space unit directions of pixel centres (flat index ``row * W + col``) -> ``[N, 3]``."""
    fx, fy, cx, cy = intrinsics
    if inds is None:
        inds = torch.arange(h * w)
    i = (inds % w).double() + 0.5
    j = torch.div(inds, w, rounding_mode="floor").double() + 0.5
    d = torch.stack([(i - cx) / fx, (j - cy) / fy, torch.ones_like(i)], dim=-1)
    return (d / d.norm(dim=-1, keepdim=True)).float()


def get_rays(
    pose: torch.Tensor, intrinsics: tuple[float, float, float, float], h: int, w: int, inds: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays of one ``[4, 4]`` NeRF-frame pose: ``(rays_o [N,3], rays_d [N,3])`` for pixels ``inds`` (all if None)."""
    d = pixel_directions(intrinsics, h, w, inds).to(pose)
    rays_d = d @ pose[:3, :3].T
    rays_o = pose[:3, 3].expand_as(rays_d)
    return rays_o.contiguous(), rays_d.contiguous()


def near_far_from_aabb(
    rays_o: torch.Tensor, rays_d: torch.Tensor, aabb: torch.Tensor, min_near: float = 0.05
) -> tuple[torch.Tensor, torch.Tensor]:
    """Slab test; rays that miss get ``near = far = 1e9``; ``near >= min_near``."""
    inv = 1.0 / torch.where(rays_d.abs() < 1e-15, torch.full_like(rays_d, 1e-15), rays_d)
    t1 = (aabb[:3] - rays_o) * inv
    t2 = (aabb[3:] - rays_o) * inv
    near = torch.minimum(t1, t2).amax(dim=-1)
    far = torch.maximum(t1, t2).amin(dim=-1)
    miss = far < near
    near = torch.where(miss, torch.full_like(near, 1e9), near)
    far = torch.where(miss, torch.full_like(far, 1e9), far)
    return near.clamp(min=min_near), far


def bg_coords(h: int, w: int, inds: torch.Tensor | None = None) -> torch.Tensor:
    """The original ``get_bg_coords``: flat pixel ``k`` gets ``(linspace_W[k // H], linspace_H[k % H])``."""
    if inds is None:
        inds = torch.arange(h * w)
    xs = torch.linspace(-1, 1, w)
    ys = torch.linspace(-1, 1, h)
    return torch.stack([xs[torch.div(inds, h, rounding_mode="floor")], ys[inds % h]], dim=-1)
