"""Input encoders of ER-NeRF in plain PyTorch: multiresolution hash / tiled grids, SH degree 4, frequency.

Grid maths (torch-ngp ``gridencoder``, the layout ER-NeRF checkpoints use), per level ``l``:

- rows: ``res_l = ceil(base * s**l)``, ``rows_l = ceil(min(2**log2, (res_l + 1)**D) / 8) * 8``; ``offsets``
  (int32, ``[L + 1]``) are the running sums; ``embeddings`` is ``[offsets[-1], C]``;
- lookup: ``u = (x + bound) / (2 bound)``; the whole output row is **zero** when any coordinate of ``u`` is
  outside [0, 1]; ``scale = 2**(l log2 s) * base - 1``, ``R = ceil(scale) + 1``, ``pos = u * scale + 0.5``,
  ``p0 = floor(pos)``, multilinear weights over the ``2**D`` corners;
- corner index: dense row-major ``sum_d p_d * (R + 1)**d`` while ``(R + 1)**D <= rows_l``; above that the
  hash grid uses ``xor_d (p_d * prime_d)`` in uint32 (primes 1, 2654435761, 805459861) and the tiled grid
  keeps the dense index; then ``% rows_l + offsets[l]``.

The gather is differentiable (autograd scatter-adds into ``embeddings``) and so are the weights in ``x``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

PRIMES = (1, 2654435761, 805459861, 3674653429)
_U32 = 0xFFFFFFFF


def level_layout(
    input_dim: int, num_levels: int, base_resolution: int, log2_hashmap_size: int, desired_resolution: float
) -> tuple[float, list[int]]:
    """``(per_level_scale, offsets)`` exactly as the original module computes them."""
    scale = 2.0 ** (math.log2(desired_resolution / base_resolution) / (num_levels - 1))
    max_params = 2**log2_hashmap_size
    offsets, offset = [], 0
    for i in range(num_levels):
        res = math.ceil(base_resolution * scale**i)
        rows = min(max_params, (res + 1) ** input_dim)
        rows = int(math.ceil(rows / 8) * 8)
        offsets.append(offset)
        offset += rows
    offsets.append(offset)
    return scale, offsets


class GridEncoder(nn.Module):
    """torch-ngp ``GridEncoder`` (``gridtype`` "hash" or "tiled", ``align_corners=False``), pure PyTorch.

    ``forward(x [N, D], bound) -> [N, num_levels * level_dim]`` (levels concatenated, level-major).
    Checkpoint keys: ``embeddings`` ``[rows, level_dim]`` and ``offsets`` int32 ``[num_levels + 1]``.
    """

    def __init__(
        self,
        input_dim: int = 2,
        num_levels: int = 12,
        level_dim: int = 1,
        base_resolution: int = 64,
        log2_hashmap_size: int = 14,
        desired_resolution: float = 512,
        gridtype: str = "hash",
    ):
        super().__init__()
        if gridtype not in ("hash", "tiled"):
            raise ValueError("gridtype must be 'hash' or 'tiled'")
        if input_dim > len(PRIMES):
            raise ValueError(f"input_dim must be <= {len(PRIMES)}")
        self.input_dim = input_dim
        self.num_levels = num_levels
        self.level_dim = level_dim
        self.base_resolution = base_resolution
        self.log2_hashmap_size = log2_hashmap_size
        self.gridtype = gridtype
        self.output_dim = num_levels * level_dim
        self.per_level_scale, offsets = level_layout(
            input_dim, num_levels, base_resolution, log2_hashmap_size, desired_resolution
        )
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.int32))
        self.embeddings = nn.Parameter(torch.empty(offsets[-1], level_dim))
        self.reset_parameters()
        self._corners = torch.tensor(
            [[(c >> d) & 1 for d in range(input_dim)] for c in range(2**input_dim)], dtype=torch.int64
        )

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.embeddings, -1e-4, 1e-4)

    def level_params(self, level: int) -> tuple[float, int, int, int, bool]:
        """``(scale, resolution, rows, offset, hashed)`` of one level (for tests and the reference)."""
        import numpy as np  # the kernel works in float32: exp2f(level * log2f(s)) * H - 1

        f32 = np.float32
        s = np.log2(f32(self.per_level_scale))
        scale = float(np.exp2(f32(level) * s) * f32(self.base_resolution) - f32(1.0))
        res = math.ceil(scale) + 1
        off = int(self.offsets[level])
        rows = int(self.offsets[level + 1]) - off
        hashed = self.gridtype == "hash" and (res + 1) ** self.input_dim > rows
        return scale, res, rows, off, hashed

    def _level_tables(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        key = str(device)
        if getattr(self, "_tables_key", None) != key:
            params = [self.level_params(lv) for lv in range(self.num_levels)]
            self._tables = (
                torch.tensor([p[0] for p in params], dtype=torch.float32, device=device),  # scale
                torch.tensor([p[1] + 1 for p in params], dtype=torch.int64, device=device),  # dense stride
                torch.tensor([p[2] for p in params], dtype=torch.int64, device=device),  # rows
                torch.tensor([p[3] for p in params], dtype=torch.int64, device=device),  # offset
                torch.tensor([p[4] for p in params], dtype=torch.bool, device=device),  # hashed
                self._corners.to(device),
            )
            self._tables_key = key
        return self._tables

    def forward(self, x: torch.Tensor, bound: float = 1.0) -> torch.Tensor:
        n, d = x.shape
        if d != self.input_dim:
            raise ValueError(f"GridEncoder expects [N, {self.input_dim}] inputs, got {tuple(x.shape)}")
        scale, stride1, rows, off, hashed, corners = self._level_tables(x.device)
        u = (x + bound) / (2 * bound)
        inside = ((u >= 0) & (u <= 1)).all(dim=1)
        # all levels at once: [N, L, D] positions (float32 maths of the kernel for float32 inputs)
        pos = u[:, None, :] * scale.to(u.dtype)[None, :, None] + 0.5
        p0 = torch.floor(pos)
        frac = pos - p0
        grid = p0.to(torch.int64)[:, :, None, :] + corners[None, None]  # [N, L, 2^D, D]
        cb = corners.bool()[None, None]
        w = torch.where(cb, frac[:, :, None, :], 1 - frac[:, :, None, :]).prod(dim=-1)  # [N, L, 2^D]
        hidx = torch.zeros_like(grid[..., 0])
        didx = torch.zeros_like(grid[..., 0])
        stride = torch.ones_like(stride1)
        for k in range(d):
            hidx = hidx ^ ((grid[..., k] * PRIMES[k]) & _U32)
            didx = didx + grid[..., k] * stride[None, :, None]
            stride = stride * stride1
        idx = torch.where(hashed[None, :, None], hidx, didx & _U32)
        idx = idx % rows[None, :, None] + off[None, :, None]
        feats = self.embeddings[idx]  # [N, L, 2^D, C]
        out = (w[..., None].to(feats.dtype) * feats).sum(dim=2).reshape(n, self.output_dim)
        return out * inside[:, None].to(out.dtype)


def grid_reference(enc: GridEncoder, point: list[float], bound: float = 1.0) -> list[float]:
    """Scalar, loop-based reference of :class:`GridEncoder` for one point (tests only)."""
    emb = enc.embeddings.detach().double().cpu().numpy()
    d = enc.input_dim
    u = [(v + bound) / (2 * bound) for v in point]
    if any(c < 0 or c > 1 for c in u):
        return [0.0] * enc.output_dim
    out = []
    for level in range(enc.num_levels):
        scale, res, rows, off, hashed = enc.level_params(level)
        pos = [c * scale + 0.5 for c in u]
        p0 = [math.floor(p) for p in pos]
        fr = [p - q for p, q in zip(pos, p0, strict=True)]
        acc = [0.0] * enc.level_dim
        for c in range(2**d):
            w, g = 1.0, []
            for k in range(d):
                bit = (c >> k) & 1
                w *= fr[k] if bit else 1 - fr[k]
                g.append(p0[k] + bit)
            if hashed:
                h = 0
                for k in range(d):
                    h ^= (g[k] * PRIMES[k]) % 2**32
                idx = h
            else:
                idx, stride = 0, 1
                for k in range(d):
                    idx += g[k] * stride
                    stride *= res + 1
                idx %= 2**32
            row = idx % rows + off
            for ch in range(enc.level_dim):
                acc[ch] += w * emb[row, ch]
        out.extend(acc)
    return out


_SH_C = (
    0.28209479177387814,
    0.4886025119029199,
    1.0925484305920792,
    0.94617469575755997,
    0.31539156525252005,
    0.5462742152960396,
    0.5900435899266435,
    2.890611442640554,
    0.4570457994644658,
    0.3731763325901154,
    1.445305721320277,
)


def sh_encode(d: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics of degree 4 (16 terms, tcnn/torch-ngp signs) of unit directions ``[N, 3]``."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    xy, yz, xz = x * y, y * z, x * z
    x2, y2, z2 = x * x, y * y, z * z
    c = _SH_C
    return torch.stack(
        [
            torch.full_like(x, c[0]),
            -c[1] * y,
            c[1] * z,
            -c[1] * x,
            c[2] * xy,
            -c[2] * yz,
            c[3] * z2 - c[4],
            -c[2] * xz,
            c[5] * (x2 - y2),
            c[6] * y * (-3 * x2 + y2),
            c[7] * xy * z,
            c[8] * y * (1 - 5 * z2),
            c[9] * z * (5 * z2 - 3),
            c[8] * x * (1 - 5 * z2),
            c[10] * z * (x2 - y2),
            c[6] * x * (-x2 + 3 * y2),
        ],
        dim=-1,
    )


class SHEncoder(nn.Module):
    """``get_encoder('spherical_harmonics')``: degree 4, 16 outputs, no parameters."""

    output_dim = 16

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return sh_encode(d)


class FreqEncoder(nn.Module):
    """``[x, sin(2^0 x), cos(2^0 x), ..., sin(2^(K-1) x), cos(2^(K-1) x)]``, each block ``input_dim`` wide."""

    def __init__(self, input_dim: int, degree: int):
        super().__init__()
        self.input_dim = input_dim
        self.degree = degree
        self.output_dim = input_dim + input_dim * 2 * degree

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x]
        for k in range(self.degree):
            f = 2.0**k
            parts += [torch.sin(f * x), torch.cos(f * x)]
        return torch.cat(parts, dim=-1)
