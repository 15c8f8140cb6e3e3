"""Reference-image branch: feature encoder, audio-conditioned 2-D warp and slot-attention fusion.

Parameter names and shapes are those of sstzal/DFRF (``Feature_extractor``, ``Position_warp``, ``SlotAttention``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tfk_dfrf.models.embed import posenc

FEATURE_DIM = 128
WARP_LIMIT = 10.0


class FeatureExtractor(nn.Module):
    """``[R, 66, H, W]`` (PE5 of RGB ‖ PE5 of the reference camera position) -> ``[R, H, W, 128]``."""

    def __init__(self, input_dim: int = 66):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(input_dim, 64, 3, 1, 1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU())
        self.fc = nn.Linear(64, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv2(self.conv1(x)).permute(0, 2, 3, 1))

    def encode(self, images: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        """Reference images ``[R, H, W, 3]`` in [0, 1] and c2w ``[R, 3, 4]`` -> feature maps ``[R, H, W, 128]``."""
        r, h, w, _ = images.shape
        cam = posenc(poses[:, :, 3], 5)[:, None, None, :].expand(r, h, w, -1)
        x = torch.cat((posenc(images, 5), cam), -1).permute(0, 3, 1, 2)
        return self(x)


class PositionWarp(nn.Module):
    """``[PE10(x) 63 ‖ audio 64 ‖ feature 128]`` -> 2-D pixel offset, clamped to ±10 px."""

    def __init__(self, input_dim: int = 255, reference_num: int = 4):
        super().__init__()
        self.input_dim = input_dim
        self.reference_num = reference_num
        self.mlp = nn.Sequential(nn.Linear(input_dim, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The original initialisation: weights N(0, 1e-3), zero biases."""
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 1e-3)
                nn.init.zeros_(m.bias)

    def forward(self, pe_pts: torch.Tensor, aud: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        x = torch.cat((pe_pts, aud.expand(*pe_pts.shape[:-1], aud.shape[-1]), feature), -1)
        return self.mlp(x).clamp(-WARP_LIMIT, WARP_LIMIT)


class SlotAttention(nn.Module):
    """DFRF's slot attention over the R reference taps of each point -> ``[n, num_slots * dim]``.

    ``noise``: ``True`` draws ``slots = mu + sigma * randn`` like the original (from ``generator`` when
    given, so a seeded run is reproducible); ``False`` starts every slot at ``mu`` (deterministic).
    """

    def __init__(
        self,
        num_slots: int = 2,
        dim: int = 128,
        input_dim: int = 130,
        iters: int = 2,
        eps: float = 1e-8,
        hidden_dim: int = 128,
    ):
        super().__init__()
        self.num_slots = num_slots
        self.iters = iters
        self.eps = eps
        self.scale = dim**-0.5
        self.dim = dim
        self.input_dim = input_dim
        self.slots_mu = nn.Parameter(torch.randn(1, 1, dim))
        self.slots_logsigma = nn.Parameter(torch.zeros(1, 1, dim))
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.gru = nn.GRUCell(dim, dim)
        hidden_dim = max(dim, hidden_dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, dim))
        self.norm_input = nn.LayerNorm(dim)
        self.norm_slots = nn.LayerNorm(dim)
        self.norm_pre_ff = nn.LayerNorm(dim)
        self.fc1 = nn.Sequential(nn.Linear(input_dim, 32), nn.ReLU())
        self.fc6 = nn.Linear(32, 32)
        self.fc7 = nn.Sequential(nn.Linear(input_dim + 63 + 32, dim), nn.LeakyReLU(inplace=True))

    def initial_slots(self, b: int, noise: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        mu = self.slots_mu.expand(b, self.num_slots, -1)
        if not noise:
            return mu
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + self.slots_logsigma.exp() * eps

    def forward(
        self,
        inputs: torch.Tensor,
        embedded_pts: torch.Tensor,
        noise: bool = True,
        generator: torch.Generator | None = None,
        slots: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``inputs`` ``[n, R, 130]`` (feature ‖ pixel), ``embedded_pts`` ``[n, R, 63]`` -> ``[n, slots*dim]``."""
        rel = self.fc6(self.fc1(inputs))
        x = self.fc7(torch.cat((inputs, embedded_pts, rel), -1))
        b, _, d = x.shape
        if slots is None:
            slots = self.initial_slots(b, noise, generator)
        x = self.norm_input(x)
        k, v = self.to_k(x), self.to_v(x)
        for _ in range(self.iters):
            prev = slots
            q = self.to_q(self.norm_slots(slots))
            attn = torch.einsum("bid,bjd->bij", q, k).mul(self.scale).softmax(dim=1) + self.eps
            attn = attn / attn.sum(dim=-1, keepdim=True)
            updates = torch.einsum("bjd,bij->bid", v, attn)
            slots = self.gru(updates.reshape(-1, d), prev.reshape(-1, d)).reshape(b, -1, d)
            slots = slots + self.mlp(self.norm_pre_ff(slots))
        return slots.reshape(b, -1)


def grid_coords(pix: torch.Tensor, h: int) -> torch.Tensor:
    """(row, col) pixels -> grid_sample (x, y) in [-1, 1], ``align_corners=False``.

    Both axes are normalised by the image *height*, as in the original (identical for square frames).
    """
    g = (2 * pix + 1) / h - 1
    return g.flip(-1)


def sample_features(fmap_chw: torch.Tensor, pix: torch.Tensor, h: int) -> torch.Tensor:
    """Bilinear taps of ``fmap_chw`` ``[R, C, H, W]`` at (row, col) ``pix`` ``[R, n, 2]`` -> ``[R, n, C]``."""
    grid = grid_coords(pix, h)[:, :, None, :]
    out = F.grid_sample(fmap_chw, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[..., 0].permute(0, 2, 1)
