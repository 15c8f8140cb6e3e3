"""Losses of both stages: VGG19 perceptual (relu1_1…relu5_1, 4 scales, L1, optional Gram style), landmark
masks and local (mouth/eyes) crops, and the frozen-discriminator softplus GAN loss.

VGG19 uses torchvision's key layout (``features.{i}``) so the ImageNet file (``styleheat/vgg19``) loads
strictly; ``torchvision`` itself is not needed. Local crops use ``grid_sample`` boxes (``roi_align`` with one
bilinear sample per output pixel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["VGG19", "GanLoss", "PerceptualLoss", "landmark_mask", "local_crops"]

_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
_RELU = {1: "relu1_1", 6: "relu2_1", 11: "relu3_1", 20: "relu4_1", 29: "relu5_1"}


class VGG19(nn.Module):
    """torchvision's VGG19 ``features`` (``width`` < 1 only for random-weight smoke runs)."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                n = max(4, int(v * width))
                layers += [nn.Conv2d(c, n, 3, padding=1), nn.ReLU(inplace=False)]
                c = n
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _RELU:
                out.append(x)
                if i == 29:
                    break
        return out


def _gram(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    f = x.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class PerceptualLoss(nn.Module):
    """Σ over 4 scales and 5 layers of L1(VGG(x), VGG(y)) (+ ``style_weight``·L1 of Gram matrices)."""

    def __init__(self, vgg: VGG19, num_scales: int = 4, style_weight: float = 0.0):
        super().__init__()
        self.vgg = vgg.eval().requires_grad_(False)
        self.num_scales = num_scales
        self.style_weight = style_weight

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = x.new_zeros(())
        for s in range(self.num_scales):
            if x.shape[-1] < 32:  # VGG19 needs 32 px to reach relu5_1 (only tiny smoke runs get here)
                break
            if s:
                if x.shape[-1] < 64:
                    break
                x = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
                y = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
            fx, fy = self.vgg(x), self.vgg(y)
            for a, b in zip(fx, fy, strict=True):
                loss = loss + F.l1_loss(a, b.detach())
                if self.style_weight and s == 0:
                    loss = loss + self.style_weight * F.l1_loss(_gram(a), _gram(b.detach()))
        return loss


def _boxes(kp: torch.Tensor) -> list[tuple[slice, int]]:
    return [(slice(48, 68), 8), (slice(36, 42), 15), (slice(42, 48), 15), (slice(27, 36), 15)]


def landmark_mask(kp: torch.Tensor, size: int, iteration: int) -> torch.Tensor:
    """1 inside the mouth (pad 8) / eyes / nose (pad 15) boxes, else 0.2 (<500 it), 0.05 (<2000), 0.005."""
    outside = 0.2 if iteration < 500 else 0.05 if iteration < 2000 else 0.005
    mask = torch.full((kp.shape[0], 1, size, size), outside, device=kp.device)
    for b in range(kp.shape[0]):
        for sl, pad in _boxes(kp):
            p = kp[b, sl]
            x0, y0 = (p.min(0).values - pad).clamp(0, size - 1).long().tolist()
            x1, y1 = (p.max(0).values + pad).clamp(0, size - 1).long().tolist()
            mask[b, :, y0 : y1 + 1, x0 : x1 + 1] = 1.0
    return mask


def _crop(img: torch.Tensor, centers: torch.Tensor, half: float, out: int) -> torch.Tensor:
    b, _, h, w = img.shape
    t = torch.linspace(-1, 1, out, device=img.device)
    gy, gx = torch.meshgrid(t, t, indexing="ij")
    cx = centers[:, 0].view(b, 1, 1) / (w - 1) * 2 - 1
    cy = centers[:, 1].view(b, 1, 1) / (h - 1) * 2 - 1
    grid = torch.stack((cx + gx * half * 2 / (w - 1), cy + gy * half * 2 / (h - 1)), -1)
    return F.grid_sample(img, grid, mode="bilinear", align_corners=True)


def local_crops(img: torch.Tensor, kp: torch.Tensor, scale: float) -> list[torch.Tensor]:
    """Mouth (120²) and eye (80²) crops around landmark centres (``kp`` at 256-px scale × ``scale``)."""
    k = kp * scale
    s = img.shape[-1] / 512
    return [
        _crop(img, k[:, 48:68].mean(1), 60 * s, max(8, int(120 * s))),
        _crop(img, k[:, 36:42].mean(1), 40 * s, max(8, int(80 * s))),
        _crop(img, k[:, 42:48].mean(1), 40 * s, max(8, int(80 * s))),
    ]


class GanLoss(nn.Module):
    """basicsr ``wgan_softplus`` generator loss with loss weight 0.1: ``0.1·softplus(−D(fake_256))``."""

    def __init__(self, d: nn.Module, weight: float = 0.1):
        super().__init__()
        self.d = d.eval().requires_grad_(False)
        self.weight = weight

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(fake, size=(256, 256), mode="bilinear", align_corners=False)
        return self.weight * F.softplus(-self.d(x)).mean()
