"""PIRender flow utilities, with the original's interpolation defaults kept on purpose.

``deformation = grid + 2·flow/(size−1)`` on a ``[−1, 1]`` grid built with ``(size−1)`` normalisation, but the
warp samples with ``grid_sample(..., align_corners=False)`` (torch's default, which the pretrained weights
were trained with), so a zero flow is *not* an exact identity. A 64² deformation is bilinearly resized
(``align_corners=False``) to the size of the tensor it warps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["coordinate_grid", "flow_to_deformation", "warp"]


def coordinate_grid(b: int, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """``[B,H,W,2]`` (x, y) grid on ``[−1, 1]`` with ``(size−1)`` normalisation."""
    x = torch.arange(w, dtype=like.dtype, device=like.device) / (w - 1) * 2 - 1
    y = torch.arange(h, dtype=like.dtype, device=like.device) / (h - 1) * 2 - 1
    grid = torch.stack((x.view(1, w).expand(h, w), y.view(h, 1).expand(h, w)), -1)
    return grid.unsqueeze(0).expand(b, h, w, 2)


def flow_to_deformation(flow: torch.Tensor) -> torch.Tensor:
    """Pixel flow ``[B,2,H,W]`` -> sampling grid ``[B,H,W,2]``."""
    b, _, h, w = flow.shape
    norm = torch.cat((flow[:, :1] * (2 / (w - 1)), flow[:, 1:] * (2 / (h - 1))), 1)
    return coordinate_grid(b, h, w, flow) + norm.permute(0, 2, 3, 1)


def warp(x: torch.Tensor, deformation: torch.Tensor) -> torch.Tensor:
    """Sample ``x [B,C,H,W]`` at ``deformation`` (resized to ``H×W`` when it differs)."""
    _, hd, wd, _ = deformation.shape
    h, w = x.shape[-2:]
    if (hd, wd) != (h, w):
        deformation = F.interpolate(
            deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=False
        ).permute(0, 2, 3, 1)
    return F.grid_sample(x, deformation, mode="bilinear", padding_mode="zeros", align_corners=False)
