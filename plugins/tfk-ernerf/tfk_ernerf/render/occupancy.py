"""The 128^3 occupancy grid of ER-NeRF: Morton order, bitfield packing, density-grid update.

``density_grid[0, m]`` is the density of the cell whose coordinates interleave to Morton code ``m``
(x in the lowest bit); ``density_bitfield[n]`` bit ``i`` says whether cell ``8n + i`` is occupied. The cell
``(x, y, z)`` covers world ``[-b, b]^3`` split in ``G`` steps along each axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _split3(v: torch.Tensor) -> torch.Tensor:
    v = v.to(torch.int64) & 0x3FF
    v = (v * 0x00010001) & 0xFF0000FF
    v = (v * 0x00000101) & 0x0F00F00F
    v = (v * 0x00000011) & 0xC30C30C3
    v = (v * 0x00000005) & 0x49249249
    return v


def morton3d(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Bit-interleave 10-bit integer coordinates (x lowest) with the magic-number masks."""
    return _split3(x) | (_split3(y) << 1) | (_split3(z) << 2)


def _compact3(v: torch.Tensor) -> torch.Tensor:
    v = v & 0x49249249
    v = (v | (v >> 2)) & 0xC30C30C3
    v = (v | (v >> 4)) & 0x0F00F00F
    v = (v | (v >> 8)) & 0xFF0000FF
    v = (v | (v >> 16)) & 0x0000FFFF
    return v


def morton3d_invert(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    m = m.to(torch.int64)
    return _compact3(m), _compact3(m >> 1), _compact3(m >> 2)


def packbits(occupied: torch.Tensor) -> torch.Tensor:
    """Boolean ``[G^3]`` (Morton order) -> uint8 ``[G^3 / 8]``, bit ``i`` of byte ``n`` = cell ``8n + i``."""
    bits = occupied.reshape(-1, 8).to(torch.int64)
    weights = 2 ** torch.arange(8, device=occupied.device)
    return (bits * weights).sum(dim=1).to(torch.uint8)


def unpackbits(bitfield: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`packbits`: uint8 ``[G^3 / 8]`` -> boolean ``[G^3]``."""
    b = bitfield.to(torch.int64)[:, None]
    return ((b >> torch.arange(8, device=bitfield.device)) & 1).bool().reshape(-1)


_MORTON_CACHE: dict[tuple[int, str], torch.Tensor] = {}


def dense_to_morton_index(grid_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``[G, G, G]`` (x, y, z) -> Morton code, cached."""
    key = (grid_size, str(device))
    if key not in _MORTON_CACHE:
        r = torch.arange(grid_size, device=device)
        x, y, z = torch.meshgrid(r, r, r, indexing="ij")
        _MORTON_CACHE[key] = morton3d(x, y, z)
    return _MORTON_CACHE[key]


def morton_to_dense(values: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Morton-ordered ``[G^3]`` -> dense ``[G, G, G]`` indexed (x, y, z)."""
    return values.reshape(-1)[dense_to_morton_index(grid_size, values.device)]


def dense_to_morton(dense: torch.Tensor) -> torch.Tensor:
    g = dense.shape[0]
    out = torch.empty(g**3, dtype=dense.dtype, device=dense.device)
    out[dense_to_morton_index(g, dense.device).reshape(-1)] = dense.reshape(-1)
    return out


def cell_of(xyz: torch.Tensor, grid_size: int, bound: float) -> torch.Tensor:
    """Integer cell coordinates ``[N, 3]`` of world points (clamped to the grid)."""
    n = (0.5 * (xyz / bound + 1) * grid_size).clamp(0, grid_size - 1)
    return n.to(torch.int64)


def occupied_at(xyz: torch.Tensor, bitfield: torch.Tensor, grid_size: int, bound: float) -> torch.Tensor:
    """Whether the cell containing each point is marked in the bitfield -> bool ``[N]``."""
    c = cell_of(xyz, grid_size, bound)
    m = morton3d(c[:, 0], c[:, 1], c[:, 2])
    byte = bitfield.to(torch.int64)[m >> 3]
    return ((byte >> (m & 7)) & 1).bool()


def cell_centres(grid_size: int, bound: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Morton-ordered ``[G^3, 3]`` cell centres as the original samples them: ``(2c / (G-1) - 1) (b - b/G)``."""
    m = torch.arange(grid_size**3, device=device)
    x, y, z = morton3d_invert(m)
    xyz = torch.stack([x, y, z], dim=-1).float()
    return (2 * xyz / (grid_size - 1) - 1) * (bound - bound / grid_size)


def dilate6(grid: torch.Tensor, grid_size: int) -> torch.Tensor:
    """6-neighbour max dilation of a Morton-ordered ``[G^3]`` grid (``morton3D_dilation``)."""
    d = morton_to_dense(grid, grid_size)
    p = F.pad(d[None, None], (1, 1, 1, 1, 1, 1), value=float("-inf"))[0, 0]
    g = grid_size
    out = d.clone()
    for sl in (
        p[:-2, 1:-1, 1:-1],
        p[2:, 1:-1, 1:-1],
        p[1:-1, :-2, 1:-1],
        p[1:-1, 2:, 1:-1],
        p[1:-1, 1:-1, :-2],
        p[1:-1, 1:-1, 2:],
    ):
        out = torch.maximum(out, sl[:g, :g, :g])
    return dense_to_morton(out)


def mark_untrained(
    density_grid: torch.Tensor,
    poses: torch.Tensor,
    intrinsics: tuple[float, float, float, float],
    bound: float,
    chunk: int = 1 << 18,
) -> None:
    """Set cells seen by no training camera to -1 (``mark_untrained_grid``), in place. ``poses`` ``[B,4,4]``."""
    g = round(density_grid.shape[-1] ** (1 / 3))
    fx, fy, cx, cy = intrinsics
    centres = cell_centres(g, bound, density_grid.device)
    half = bound / g
    count = torch.zeros(g**3, dtype=torch.int32, device=density_grid.device)
    rot = poses[:, :3, :3]
    trans = poses[:, :3, 3]
    for s in range(0, centres.shape[0], chunk):
        pts = centres[s : s + chunk]
        for bi in range(poses.shape[0]):
            cam = (pts - trans[bi]) @ rot[bi]  # world -> camera (looks down +z)
            z = cam[:, 2]
            inside = (z > 0) & (cam[:, 0].abs() < cx / fx * z + 2 * half) & (cam[:, 1].abs() < cy / fy * z + 2 * half)
            count[s : s + chunk] += inside.to(torch.int32)
    density_grid[0, count == 0] = -1


def update_density_grid(
    density_grid: torch.Tensor,
    sigma_fn,
    bound: float,
    decay: float = 0.95,
    generator: torch.Generator | None = None,
    chunk: int = 1 << 16,
    fraction: float = 1.0,
) -> torch.Tensor:
    """One EMA update: sigma at jittered centres, dilate, ``grid = max(grid * decay, new)`` on valid cells.

    ``fraction < 1`` re-evaluates only a random subset of the cells (the rest keep ``grid * decay`` compared
    with their previous value) -- a CPU-budget option of the tiny preset; 1.0 is the original.
    """
    g = round(density_grid.shape[-1] ** (1 / 3))
    dev = density_grid.device
    centres = cell_centres(g, bound, dev)
    half = bound / g
    tmp = torch.full((g**3,), -1.0, device=dev)
    if fraction < 1.0:
        idx = torch.randperm(g**3, generator=generator)[: max(1, int(fraction * g**3))].to(dev)
    else:
        idx = torch.arange(g**3, device=dev)
    with torch.no_grad():
        for s in range(0, idx.numel(), chunk):
            sel = idx[s : s + chunk]
            jitter = (torch.rand(sel.numel(), 3, generator=generator) * 2 - 1).to(dev) * half
            tmp[sel] = sigma_fn(centres[sel] + jitter).reshape(-1).float()
    tmp = dilate6(tmp, g)
    grid = density_grid[0]
    valid = (grid >= 0) & (tmp >= 0)
    grid[valid] = torch.maximum(grid[valid] * decay, tmp[valid])
    return density_grid


def bitfield_from_grid(density_grid: torch.Tensor, density_thresh: float) -> tuple[torch.Tensor, float]:
    """``(bitfield, mean_density)``: occupied = ``grid > min(mean_density, thresh)``."""
    grid = density_grid[0]
    mean = float(grid.clamp(min=0).mean())
    return packbits(grid > min(mean, density_thresh)), mean


def grid_from_bitfield(bitfield: torch.Tensor, value: float) -> torch.Tensor:
    """A ``[1, G^3]`` density grid for a checkpoint without one (``ngp.pth``): ``value`` where occupied, else 0."""
    occ = unpackbits(bitfield)
    return torch.where(occ, torch.full(occ.shape, float(value)), torch.zeros(occ.shape))[None]
