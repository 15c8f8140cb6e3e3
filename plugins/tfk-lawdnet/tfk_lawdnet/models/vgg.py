"""VGG19 perceptual features (relu1_1 .. relu5_1) with torchvision's key layout (``features.N.weight``).

The ImageNet weights are torchvision's ``vgg19-dcbb9e9d.pth`` (store artifact ``lawdnet/vgg19``), loaded by
path; no torchvision needed. ``width`` divides every channel count: ``width=1`` is the real network, a larger
divisor gives a small random-weight stand-in for quick CPU runs (it cannot load the ImageNet weights).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tfk.errors import InvalidArtifact

__all__ = ["SLICES", "Vgg19", "perceptual_loss"]

# torchvision vgg19 ``features`` configuration up to relu5_1 (index 29)
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]
SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class Vgg19(nn.Module):
    """Frozen VGG19 returning the 5 slice outputs for an RGB batch in [0, 1]."""

    def __init__(self, weights: str | Path | None = None, width: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                cout = max(1, int(v) // width)
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=False)]
                cin = cout
        self.features = nn.Sequential(*layers)  # indices 0..29 as in torchvision
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        if weights is not None:
            if width != 1:
                raise ValueError("ImageNet weights need width=1")
            self.load_imagenet(weights)
        self.requires_grad_(False)
        self.eval()

    def load_imagenet(self, path: str | Path) -> None:
        """Load ``features.*`` up to relu5_1 from torchvision's VGG19 state dict (the classifier is ignored)."""
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
        own = self.features.state_dict()
        sub = {k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.")}
        missing = [k for k in own if k not in sub]
        bad = [k for k in own if k in sub and tuple(sub[k].shape) != tuple(own[k].shape)]
        if missing or bad:
            raise InvalidArtifact(f"{path} is not torchvision's VGG19 (missing {missing[:3]}, bad shapes {bad[:3]})")
        self.features.load_state_dict({k: sub[k] for k in own})

    def train(self, mode: bool = True) -> Vgg19:
        return super().train(False)  # always frozen / eval

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        outs = []
        for a, b in SLICES:
            x = self.features[a:b](x)
            outs.append(x)
        return outs


def perceptual_loss(vgg: Vgg19, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The original perceptual term before its weight: mean over 5 slices x {full, half} of L1 distances.

    ``fake_half`` is a 3x3/2 average pool (count_include_pad=False), ``real_half`` a bilinear x0.5 resize,
    as in the original (the two are downsampled differently).
    """
    fake_half = F.avg_pool2d(fake, 3, 2, 1, count_include_pad=False)
    real_half = F.interpolate(real, scale_factor=0.5, mode="bilinear", align_corners=False)
    with torch.no_grad():
        pr, prh = vgg(real), vgg(real_half)
    pf, pfh = vgg(fake), vgg(fake_half)
    total = fake.new_zeros(())
    for a, b in zip(pf, pr, strict=True):
        total = total + F.l1_loss(a, b)
    for a, b in zip(pfh, prh, strict=True):
        total = total + F.l1_loss(a, b)
    return total / (2 * len(pf))
