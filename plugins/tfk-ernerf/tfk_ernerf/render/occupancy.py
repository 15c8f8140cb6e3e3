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


_CENTRE_CACHE: dict[tuple[int, float, str], torch.Tensor] = {}


def cell_centres(grid_size: int, bound: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """Morton-ordered ``[G^3, 3]`` cell centres as the original samples them: ``(2c / (G-1) - 1) (b - b/G)``."""
    key = (grid_size, float(bound), str(device))
    if key not in _CENTRE_CACHE:
        m = torch.arange(grid_size**3, device=device)
        x, y, z = morton3d_invert(m)
        xyz = torch.stack([x, y, z], dim=-1).float()
        _CENTRE_CACHE[key] = (2 * xyz / (grid_size - 1) - 1) * (bound - bound / grid_size)
    return _CENTRE_CACHE[key]


def _upsample_morton(values: torch.Tensor, r: int, g: int) -> torch.Tensor:
    """A Morton-ordered ``[r^3]`` grid broadcast to ``[g^3]`` (each coarse cell fills its ``(g/r)^3`` block)."""
    if r == g:
        return values
    f = g // r
    dense = morton_to_dense(values, r)
    dense = dense.repeat_interleave(f, 0).repeat_interleave(f, 1).repeat_interleave(f, 2)
    return dense_to_morton(dense)


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
    eval_res: int | None = None,
) -> None:
    """Set cells seen by no training camera to -1 (``mark_untrained_grid``), in place. ``poses`` ``[B,4,4]``.

    ``eval_res`` tests the centres of a coarser lattice (each with its own half size) and broadcasts.
    """
    g = round(density_grid.shape[-1] ** (1 / 3))
    r = eval_res or g
    fx, fy, cx, cy = intrinsics
    centres = cell_centres(r, bound, density_grid.device)
    half = bound / r
    count = torch.zeros(r**3, dtype=torch.int32, device=density_grid.device)
    rot = poses[:, :3, :3]
    trans = poses[:, :3, 3]
    for s in range(0, centres.shape[0], chunk):
        pts = centres[s : s + chunk]
        for bi in range(poses.shape[0]):
            cam = (pts - trans[bi]) @ rot[bi]  # world -> camera (looks down +z)
            z = cam[:, 2]
            inside = (z > 0) & (cam[:, 0].abs() < cx / fx * z + 2 * half) & (cam[:, 1].abs() < cy / fy * z + 2 * half)
            count[s : s + chunk] += inside.to(torch.int32)
    density_grid[0, _upsample_morton(count, r, g) == 0] = -1


def update_density_grid(
    density_grid: torch.Tensor,
    sigma_fn,
    bound: float,
    decay: float = 0.95,
    generator: torch.Generator | None = None,
    chunk: int = 1 << 16,
    eval_res: int | None = None,
) -> torch.Tensor:
    """One EMA update: sigma at jittered centres, dilate, ``grid = max(grid * decay, new)`` on valid cells.

    ``eval_res`` (a divisor of G, default G = the original) evaluates sigma on a coarser lattice of jittered
    block centres and gives every cell of a block its value -- a CPU-budget option of the tiny preset.
    """
    g = round(density_grid.shape[-1] ** (1 / 3))
    r = eval_res or g
    if g % r:
        raise ValueError(f"eval_res {r} must divide the grid size {g}")
    dev = density_grid.device
    centres = cell_centres(r, bound, dev)
    half = bound / r
    coarse = torch.empty(r**3, device=dev)
    with torch.no_grad():
        for s in range(0, r**3, chunk):
            pts = centres[s : s + chunk]
            jitter = (torch.rand(pts.shape[0], 3, generator=generator) * 2 - 1).to(dev) * half
            coarse[s : s + chunk] = sigma_fn(pts + jitter).reshape(-1).float()
    tmp = dilate6(_upsample_morton(coarse, r, g), g)
    grid = density_grid[0]
    valid = (grid >= 0) & (tmp >= 0)
    grid[valid] = torch.maximum(grid[valid] * decay, tmp[valid])
    return density_grid


def update_torso_grid(grid_torso: torch.Tensor, alpha_fn, decay: float = 0.95, chunk: int = 1 << 15) -> torch.Tensor:
    """Torso 2-D alpha grid: alpha at the ``G x G`` lattice of [-1, 1]^2, 5x5 max dilation, EMA max."""
    g = round(grid_torso.numel() ** 0.5)
    lin = torch.linspace(-1, 1, g, device=grid_torso.device)
    xx, yy = torch.meshgrid(lin, lin, indexing="ij")
    coords = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)  # index i0 * G + i1
    tmp = torch.empty(g * g, device=grid_torso.device)
    with torch.no_grad():
        for s in range(0, g * g, chunk):
            tmp[s : s + chunk] = alpha_fn(coords[s : s + chunk]).reshape(-1).float()
    tmp = F.max_pool2d(tmp.reshape(1, 1, g, g), kernel_size=5, stride=1, padding=2).reshape(-1)
    grid_torso.copy_(torch.maximum(grid_torso * decay, tmp))
    return grid_torso


def bitfield_from_grid(density_grid: torch.Tensor, density_thresh: float) -> tuple[torch.Tensor, float]:
    """``(bitfield, mean_density)``: occupied = ``grid > min(mean_density, thresh)``."""
    grid = density_grid[0]
    mean = float(grid.clamp(min=0).mean())
    return packbits(grid > min(mean, density_thresh)), mean


def grid_from_bitfield(bitfield: torch.Tensor, value: float) -> torch.Tensor:
    """A ``[1, G^3]`` density grid for a checkpoint without one (``ngp.pth``): ``value`` where occupied, else 0."""
    occ = unpackbits(bitfield)
    return torch.where(occ, torch.full(occ.shape, float(value)), torch.zeros(occ.shape))[None]
