"""BiSeNet face parsing (19 CelebAMask-HQ classes) with the exact ``79999_iter.pth`` parameter layout.

Layout (face-parsing.PyTorch): ResNet-18 context path ``cp.resnet.*`` (no fc), ``cp.arm16``/``cp.arm32``
attention refinement, ``cp.conv_head32``/``cp.conv_head16``/``cp.conv_avg``, the feature fusion ``ffm.*`` and
three heads ``conv_out`` (main), ``conv_out16``, ``conv_out32``; the spatial path is replaced by the
ResNet's 1/8 features. No ImageNet weights are downloaded: the checkpoint holds the whole network.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from tfk.errors import BadInput

N_CLASSES = 19
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ARTIFACT_ID = "shared/face_parsing_79999"


class ConvBNReLU(nn.Module):
    def __init__(self, cin: int, cout: int, ks: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, ks, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if cin != cout or stride != 1:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = F.relu(self.bn1(self.conv1(x)))
        r = self.bn2(self.conv2(r))
        short = x if self.downsample is None else self.downsample(x)
        return F.relu(short + r)


def _layer(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))


class Resnet18(nn.Module):
    """ResNet-18 trunk returning the 1/8, 1/16 and 1/32 feature maps."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _layer(64, 64, 1)
        self.layer2 = _layer(64, 128, 2)
        self.layer3 = _layer(128, 256, 2)
        self.layer4 = _layer(256, 512, 2)

    def forward(self, x: torch.Tensor):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feat8 = self.layer2(self.layer1(x))
        feat16 = self.layer3(feat8)
        feat32 = self.layer4(feat16)
        return feat8, feat16, feat32


class AttentionRefinementModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, cout, 3, 1, 1)
        self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv(x)
        att = torch.sigmoid(self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feat, 1))))
        return feat * att


class ContextPath(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet = Resnet18()
        self.arm16 = AttentionRefinementModule(256, 128)
        self.arm32 = AttentionRefinementModule(512, 128)
        self.conv_head32 = ConvBNReLU(128, 128, 3, 1, 1)
        self.conv_head16 = ConvBNReLU(128, 128, 3, 1, 1)
        self.conv_avg = ConvBNReLU(512, 128, 1, 1, 0)

    def forward(self, x: torch.Tensor):
        feat8, feat16, feat32 = self.resnet(x)
        avg = self.conv_avg(F.adaptive_avg_pool2d(feat32, 1))
        avg_up = F.interpolate(avg, feat32.shape[2:], mode="nearest")
        feat32_up = F.interpolate(self.arm32(feat32) + avg_up, feat16.shape[2:], mode="nearest")
        feat32_up = self.conv_head32(feat32_up)
        feat16_up = F.interpolate(self.arm16(feat16) + feat32_up, feat8.shape[2:], mode="nearest")
        feat16_up = self.conv_head16(feat16_up)
        return feat8, feat16_up, feat32_up


class FeatureFusionModule(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convblk = ConvBNReLU(cin, cout, 1, 1, 0)
        self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, fsp: torch.Tensor, fcp: torch.Tensor) -> torch.Tensor:
        feat = self.convblk(torch.cat([fsp, fcp], dim=1))
        att = torch.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(feat, 1)))))
        return feat * att + feat


class BiSeNetOutput(nn.Module):
    def __init__(self, cin: int, mid: int, n_classes: int):
        super().__init__()
        self.conv = ConvBNReLU(cin, mid, 3, 1, 1)
        self.conv_out = nn.Conv2d(mid, n_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))


class BiSeNet(nn.Module):
    """Face-parsing BiSeNet. ``forward`` returns the main head's logits [B,19,H,W] (AD-NeRF uses ``[0]``);
    ``forward_all`` returns all three heads."""

    def __init__(self, n_classes: int = N_CLASSES):
        super().__init__()
        self.cp = ContextPath()
        self.ffm = FeatureFusionModule(256, 256)
        self.conv_out = BiSeNetOutput(256, 256, n_classes)
        self.conv_out16 = BiSeNetOutput(128, 64, n_classes)
        self.conv_out32 = BiSeNetOutput(128, 64, n_classes)

    def forward_all(self, x: torch.Tensor):
        h, w = x.shape[2:]
        feat8, feat_cp8, feat_cp16 = self.cp(x)
        outs = (self.conv_out(self.ffm(feat8, feat_cp8)), self.conv_out16(feat_cp8), self.conv_out32(feat_cp16))
        return tuple(F.interpolate(o, (h, w), mode="bilinear", align_corners=True) for o in outs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        feat8, feat_cp8, _ = self.cp(x)
        out = self.conv_out(self.ffm(feat8, feat_cp8))
        return F.interpolate(out, (h, w), mode="bilinear", align_corners=True)


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    from tfk.statedict import read_state_dict

    return read_state_dict(path, "BiSeNet checkpoint", strip="module.")


def load_state_dict_strict(model: BiSeNet, sd: dict[str, torch.Tensor]) -> None:
    """Strict load (:func:`tfk.statedict.load_strict`) with the one missing/unexpected/wrong-shape message."""
    from tfk.statedict import load_strict

    load_strict(model, sd, "not a BiSeNet 79999_iter.pth layout")


def validate_checkpoint(path: str | Path) -> None:
    """Artifact validator: the file must load strictly into :class:`BiSeNet`."""
    load_state_dict_strict(BiSeNet(N_CLASSES), _read_state_dict(path))


def load_bisenet(path: str | Path | None = None, device: str = "cpu") -> BiSeNet:
    """BiSeNet with ``79999_iter.pth`` weights (from the weights store unless ``path`` is given), in eval mode."""
    if path is None:
        from tfk import weights

        path = weights.require(ARTIFACT_ID)
    model = BiSeNet(N_CLASSES)
    load_state_dict_strict(model, _read_state_dict(path))
    return model.eval().to(device)


def preprocess(rgb_batch: list, size: int = 512) -> torch.Tensor:
    """RGB uint8 frames -> normalised [B,3,size,size] (bilinear resize, ImageNet mean/std), as AD-NeRF."""
    import cv2
    import numpy as np

    if not rgb_batch:
        raise BadInput("no frames to parse")
    arr = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in rgb_batch])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std
