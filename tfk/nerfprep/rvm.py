"""Robust Video Matting (MobileNetV3-Large variant) in plain PyTorch, loading ``rvm_mobilenetv3.pth`` strictly.

The parameter names and shapes follow the published checkpoint (PeterL1n/RobustVideoMatting v1.0.0):
``backbone.features.*`` (torchvision's MobileNetV3-Large layout: ``features.0`` stem, ``features.1-15`` inverted
residual ``block`` s with optional squeeze-excitation ``fc1``/``fc2``, ``features.16`` 1x1 conv to 960),
``aspp.aspp1``/``aspp.aspp2`` (LR-ASPP), ``decoder.decode4..decode0`` (ConvGRU ``ih``/``hh`` recurrences),
``project_mat``, ``project_seg`` and the deep guided filter ``refiner``. torchvision is not needed.

Inference is recurrent: :meth:`MattingNetwork.forward` takes one batch of frames and the four recurrent states
and returns ``(fgr, pha, r1, r2, r3, r4)``; :func:`matte_frames` streams a clip through it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tfk.errors import InvalidArtifact

_BN = {"eps": 0.001, "momentum": 0.01}  # torchvision MobileNetV3's BatchNorm settings
#: (in, kernel, expanded, out, squeeze-excite, hard-swish, stride, dilation) of features.1 .. features.15
_SETTING = (
    (16, 3, 16, 16, False, False, 1, 1),
    (16, 3, 64, 24, False, False, 2, 1),
    (24, 3, 72, 24, False, False, 1, 1),
    (24, 5, 72, 40, True, False, 2, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 5, 120, 40, True, False, 1, 1),
    (40, 3, 240, 80, False, True, 2, 1),
    (80, 3, 200, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 184, 80, False, True, 1, 1),
    (80, 3, 480, 112, True, True, 1, 1),
    (112, 3, 672, 112, True, True, 1, 1),
    (112, 5, 672, 160, True, True, 2, 2),
    (160, 5, 960, 160, True, True, 1, 2),
    (160, 5, 960, 160, True, True, 1, 2),
)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _divisible(v: float, d: int = 8) -> int:
    out = max(d, int(v + d / 2) // d * d)
    return out + d if out < 0.9 * v else out


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, dilation: int = 1, act=None):
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 * dilation, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout, **_BN),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return s * x


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, hs: bool, stride: int, dilation: int):
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(_conv_bn(cin, exp, 1, act=act))
        layers.append(_conv_bn(exp, exp, k, 1 if dilation > 1 else stride, groups=exp, dilation=dilation, act=act))
        if se:
            layers.append(_SqueezeExcite(exp, _divisible(exp // 4)))
        layers.append(_conv_bn(exp, cout, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3LargeEncoder(nn.Module):
    """MobileNetV3-Large feature extractor (dilated last stage) -> features at 1/2, 1/4, 1/8 and 1/16."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.Hardswish)]
        layers += [_InvertedResidual(*s) for s in _SETTING]
        layers.append(_conv_bn(160, 960, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        taps = {1: 0, 3: 1, 6: 2, 16: 3}
        out: list[torch.Tensor] = [x] * 4
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in taps:
                out[taps[i]] = x
        return out


class LRASPP(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.aspp1 = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))
        self.aspp2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aspp1(x) * self.aspp2(x)


class ConvGRU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(channels * 2, channels * 2, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(channels * 2, channels, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = h.expand_as(x)
        r, z = self.ih(torch.cat([x, h], 1)).split(self.channels, 1)
        c = self.hh(torch.cat([x, r * h], 1))
        h = (1 - z) * h + z * c
        return h, h


class _Bottleneck(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.gru = ConvGRU(channels // 2)

    def forward(self, x, r):
        a, b = x.split(self.channels // 2, 1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], 1), r


class _Upsampling(nn.Module):
    def __init__(self, cin: int, skip: int, src: int, cout: int):
        super().__init__()
        self.out_channels = cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin + skip + src, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
        )
        self.gru = ConvGRU(cout // 2)

    def forward(self, x, f, s, r):
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)[:, :, : s.size(2), : s.size(3)]
        x = self.conv(torch.cat([x, f, s], 1))
        a, b = x.split(self.out_channels // 2, 1)
        b, r = self.gru(b, r)
        return torch.cat([a, b], 1), r


class _Output(nn.Module):
    def __init__(self, cin: int, src: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin + src, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(True),
        )

    def forward(self, x, s):
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)[:, :, : s.size(2), : s.size(3)]
        return self.conv(torch.cat([x, s], 1))


class RecurrentDecoder(nn.Module):
    def __init__(self, feat: tuple[int, ...] = (16, 24, 40, 128), dec: tuple[int, ...] = (80, 40, 32, 16)):
        super().__init__()
        self.decode4 = _Bottleneck(feat[3])
        self.decode3 = _Upsampling(feat[3], feat[2], 3, dec[0])
        self.decode2 = _Upsampling(dec[0], feat[1], 3, dec[1])
        self.decode1 = _Upsampling(dec[1], feat[0], 3, dec[2])
        self.decode0 = _Output(dec[2], 3, dec[3])

    def forward(self, s0, f1, f2, f3, f4, r1, r2, r3, r4):
        pool = lambda t: F.avg_pool2d(t, 2, 2, count_include_pad=False, ceil_mode=True)  # noqa: E731
        s1 = pool(s0)
        s2 = pool(s1)
        s3 = pool(s2)
        x4, r4 = self.decode4(f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.decode0(x1, s0), r1, r2, r3, r4


class Projection(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DeepGuidedFilterRefiner(nn.Module):
    def __init__(self, hid: int = 16):
        super().__init__()
        self.box_filter = nn.Conv2d(4, 4, 3, padding=1, bias=False, groups=4)
        with torch.no_grad():
            self.box_filter.weight.fill_(1 / 9)
        self.conv = nn.Sequential(
            nn.Conv2d(4 * 2 + hid, hid, 1, bias=False),
            nn.BatchNorm2d(hid),
            nn.ReLU(True),
            nn.Conv2d(hid, hid, 1, bias=False),
            nn.BatchNorm2d(hid),
            nn.ReLU(True),
            nn.Conv2d(hid, 4, 1, bias=True),
        )

    def forward(self, fine_src, base_src, base_fgr, base_pha, base_hid):
        fine_x = torch.cat([fine_src, fine_src.mean(1, keepdim=True)], 1)
        base_x = torch.cat([base_src, base_src.mean(1, keepdim=True)], 1)
        base_y = torch.cat([base_fgr, base_pha], 1)
        mean_x = self.box_filter(base_x)
        mean_y = self.box_filter(base_y)
        cov_xy = self.box_filter(base_x * base_y) - mean_x * mean_y
        var_x = self.box_filter(base_x * base_x) - mean_x * mean_x
        a = self.conv(torch.cat([cov_xy, var_x, base_hid], 1))
        b = mean_y - a * mean_x
        size = fine_src.shape[2:]
        a = F.interpolate(a, size, mode="bilinear", align_corners=False)
        b = F.interpolate(b, size, mode="bilinear", align_corners=False)
        return (a * fine_x + b).split([3, 1], 1)


class MattingNetwork(nn.Module):
    """RVM ``MattingNetwork('mobilenetv3', refiner='deep_guided_filter')``."""

    def __init__(self):
        super().__init__()
        self.backbone = MobileNetV3LargeEncoder()
        self.aspp = LRASPP(960, 128)
        self.decoder = RecurrentDecoder()
        self.project_mat = Projection(16, 4)
        self.project_seg = Projection(16, 1)
        self.refiner = DeepGuidedFilterRefiner()

    def forward(self, src, r1, r2, r3, r4, downsample_ratio: float = 1.0):
        """``src`` RGB ``[B,3,H,W]`` in [0,1] -> ``(fgr, pha, r1, r2, r3, r4)``."""
        if downsample_ratio != 1:
            src_sm = F.interpolate(
                src, scale_factor=downsample_ratio, mode="bilinear", align_corners=False, recompute_scale_factor=False
            )
        else:
            src_sm = src
        f1, f2, f3, f4 = self.backbone(src_sm)
        f4 = self.aspp(f4)
        hid, r1, r2, r3, r4 = self.decoder(src_sm, f1, f2, f3, f4, r1, r2, r3, r4)
        fgr_res, pha = self.project_mat(hid).split([3, 1], 1)
        if downsample_ratio != 1:
            fgr_res, pha = self.refiner(src, src_sm, fgr_res, pha, hid)
        return (fgr_res + src).clamp(0.0, 1.0), pha.clamp(0.0, 1.0), r1, r2, r3, r4


def load_rvm(path: str | os.PathLike[str], device: str = "cpu") -> MattingNetwork:
    """Build the network and load ``rvm_mobilenetv3.pth`` strictly (``weights_only``); clear error otherwise."""
    try:
        sd = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means a bad file
        raise InvalidArtifact(f"{path}: not a PyTorch checkpoint ({type(exc).__name__})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    net = MattingNetwork()
    if not isinstance(sd, dict):
        raise InvalidArtifact(f"{path}: not a state dict")
    missing, unexpected = net.state_dict().keys() - sd.keys(), sd.keys() - net.state_dict().keys()
    if missing or unexpected:
        raise InvalidArtifact(
            f"{path}: not an RVM MobileNetV3 checkpoint ({len(missing)} missing keys, e.g. "
            f"{sorted(missing)[:2]}; {len(unexpected)} unexpected, e.g. {sorted(unexpected)[:2]})"
        )
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise InvalidArtifact(f"{path}: parameter shapes differ from RVM MobileNetV3 ({exc})") from None
    return net.to(device).eval()


def validate_checkpoint(path: str | os.PathLike[str]) -> None:
    """Weights-store validator: the file loads strictly into :class:`MattingNetwork`."""
    load_rvm(path)


def auto_downsample(height: int, width: int, target: int = 512) -> float:
    """RVM's recommendation: run the network at about ``target`` px on the long side (never upsample)."""
    return min(1.0, target / max(height, width))


@torch.inference_mode()
def matte_frames(
    net: MattingNetwork,
    frames: Iterable[np.ndarray],
    downsample_ratio: float | None = None,
    device: str = "cpu",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream RGB uint8 frames through the recurrent network -> ``(foreground RGB float [H,W,3], alpha [H,W])``."""
    rec: list[torch.Tensor] = [torch.zeros(1, 1, 1, 1, device=device)] * 4
    for frame in frames:
        src = torch.from_numpy(np.ascontiguousarray(frame)).to(device).permute(2, 0, 1)[None].float() / 255.0
        ratio = downsample_ratio or auto_downsample(*frame.shape[:2])
        fgr, pha, *rec = net(src, *rec, downsample_ratio=ratio)
        yield fgr[0].permute(1, 2, 0).cpu().numpy(), pha[0, 0].cpu().numpy()
