"""ArcFace identity features in PyTorch: insightface ``arcface_torch`` IResNet (``backbone.pth`` layout).

**Substitution.** The original extracts ``fc1`` embeddings with the MXNet model ``model-r100-ii`` (MTCNN 5
points -> 112x112 crop). MXNet is not available on Python 3.11; this module loads the public PyTorch ArcFace
release (insightface ``arcface_torch``, e.g. ``ms1mv3_arcface_r100_fp16/backbone.pth``) instead. It is the same
architecture family and the same 112x112 5-point crop, but *different weights*: its features are not
numerically the MXNet ones, so a GAN fine-tuned on them is not interchangeable with the published memory values.
Every file written with it records ``identity_source = "arcface_torch"``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: insightface's 5-point template of the 112x112 ArcFace crop (eyes, nose, mouth corners).
ARCFACE_5P = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
LAYERS = {"r18": (2, 2, 2, 2), "r34": (3, 4, 6, 3), "r50": (3, 4, 14, 3), "r100": (3, 13, 30, 3)}
SOURCE = "arcface_torch"


class IBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + idt


class IResNet(nn.Module):
    """(B, 3, 112, 112) normalised to [-1, 1] -> (B, 512) embedding (not yet L2-normalised)."""

    def __init__(self, arch: str = "r100", width: int = 1, num_features: int = 512):
        super().__init__()
        c = [64 // width, 128 // width, 256 // width, 512 // width]
        self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0], eps=1e-5)
        self.prelu = nn.PReLU(c[0])
        cin = c[0]
        for k, (n, cout) in enumerate(zip(LAYERS[arch], c, strict=True), start=1):
            blocks = [IBasicBlock(cin, cout, 2)] + [IBasicBlock(cout, cout) for _ in range(n - 1)]
            setattr(self, f"layer{k}", nn.Sequential(*blocks))
            cin = cout
        self.bn2 = nn.BatchNorm2d(c[3], eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(c[3] * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def align_112(rgb: np.ndarray, lm5: np.ndarray) -> np.ndarray:
    """insightface ``norm_crop``: similarity transform of the 5 points onto :data:`ARCFACE_5P`, 112x112."""
    import cv2

    from tfk.face.align import similarity_from_points

    m = similarity_from_points(np.asarray(lm5, np.float64), ARCFACE_5P)
    return cv2.warpAffine(rgb, np.asarray(m, np.float64)[:2], (112, 112), borderValue=0.0)


@torch.no_grad()
def identity_features(net: IResNet, crops: np.ndarray, device: str = "cpu", batch: int = 32) -> np.ndarray:
    """112x112 RGB uint8 crops (N, 112, 112, 3) -> L2-normalised (N, 512) float32."""
    out = []
    for s in range(0, len(crops), batch):
        x = torch.as_tensor(crops[s : s + batch], device=device).permute(0, 3, 1, 2).float()
        f = net((x / 255.0 - 0.5) / 0.5)
        out.append(torch.nn.functional.normalize(f, dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 512), np.float32)
