"""A tiny synthetic DFRF scene for tests and benchmarks: poses around a head at the origin, smooth images."""

from __future__ import annotations

import math

import torch


def look_pose(yaw_deg: float, pitch_deg: float = 0.0, dist: float = 1.0) -> torch.Tensor:
    """c2w ``[4, 4]`` of a camera ``dist`` from the origin, looking at it (OpenGL: looks down its -Z)."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = torch.tensor([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = torch.tensor([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rot = ry @ rx
    c2w = torch.eye(4)
    c2w[:3, :3] = rot
    c2w[:3, 3] = rot @ torch.tensor([0.0, 0.0, dist])
    return c2w


def smooth_images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """``[n, h, w, 3]`` smooth random images in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, max(2, h // 8), max(2, w // 8), generator=g)
    up = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
    return up.clamp(0, 1).permute(0, 2, 3, 1).contiguous()
