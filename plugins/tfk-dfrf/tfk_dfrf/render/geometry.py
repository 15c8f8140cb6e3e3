"""Camera rays (NeRF/OpenGL convention on the json c2w) and re-projection into the reference cameras."""

from __future__ import annotations

import torch


def pixel_rays(
    c2w: torch.Tensor, focal: float, cx: float, cy: float, cols: torch.Tensor, rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixel positions ``(cols, rows)`` (any shape, float): ``dir = ((i-cx)/f, -(j-cy)/f, -1)``."""
    dirs = torch.stack([(cols - cx) / focal, -(rows - cy) / focal, -torch.ones_like(cols)], -1)
    rays_d = torch.sum(dirs[..., None, :] * c2w[:3, :3], -1)
    rays_o = c2w[:3, -1].expand(rays_d.shape)
    return rays_o, rays_d


def frame_grid(h: int, w: int, dtype=torch.float32, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer pixel positions ``(cols, rows)`` of an ``h x w`` frame, row-major, as floats."""
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=dtype, device=device), torch.arange(w, dtype=dtype, device=device), indexing="ij"
    )
    return cols, rows


def world_to_camera(poses: torch.Tensor) -> torch.Tensor:
    """c2w ``[R, 3, 4]`` -> w2c ``[R, 3, 4]`` = ``[Rᵀ | -Rᵀ t]``."""
    rot = poses[..., :3, :3]
    rot_t = rot.permute(0, 2, 1)
    return torch.cat((rot_t, -1 * rot_t @ poses[..., :3, 3, None]), -1)


def intrinsic_matrix(focal: float, h: int, w: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """The original's ``[[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` (the json cx/cy are not used here)."""
    return torch.tensor([[focal, 0.0, w / 2], [0.0, focal, h / 2], [0.0, 0.0, 1.0]], dtype=dtype, device=device)


def project(pts: torch.Tensor, w2c: torch.Tensor, intrinsic: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Points ``[n, 3]`` -> (row, col) pixel positions ``[R, n, 2]`` in each reference camera, clamped to the frame.

    The operations are those of the original ``make_indices`` in the same order, so rounding them gives the
    same pixels bit for bit.
    """
    hom = torch.cat((pts, torch.ones_like(pts[..., :1])), -1)
    focal = intrinsic[0, 0]
    cam = hom[None].expand(w2c.shape[0], -1, -1) @ w2c.permute(0, 2, 1)
    cam = focal / cam[:, :, 2][..., None] * cam
    uv = 1.0 / focal * (cam @ intrinsic.T)
    rc = torch.flip(uv, dims=[-1])[..., 1:]
    sign = torch.tensor([-1.0, 1.0], dtype=pts.dtype, device=pts.device)
    rc = (torch.tensor([0.0, w], dtype=pts.dtype, device=pts.device) - rc) * sign
    return clamp_pixels(rc, h, w)


def clamp_pixels(rc: torch.Tensor, h: int, w: int) -> torch.Tensor:
    hi = torch.tensor([h - 1.0, w - 1.0], dtype=rc.dtype, device=rc.device)
    return torch.maximum(torch.minimum(rc, hi), torch.zeros_like(hi))
