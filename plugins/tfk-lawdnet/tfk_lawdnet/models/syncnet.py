"""The DINet/LawDNet SyncNet used for the clip-stage sync loss (``SyncNet(15, 29, 128)``, no BN).

Key names match ``syncnet_256mouth.pth`` (``state_dict.net``, no ``module.`` prefix): 68 tensors,
3,277,121 parameters. Inputs: 5 consecutive mouth crops stacked on channels ``(B,15,S,S)`` in [0,1]
(S=256 for the published weights; any multiple of 32 works) and the 9-frame DP1 window ``(B,29,9)``.
Output: a score map ``(B,1,S/32,S/32)``; the loss pushes it to 1 (MSE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SyncNet", "mouth_region"]


class _Same2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)

    def forward(self, x):
        return F.relu(self.conv(x))


class _Down2d(nn.Module):
    """conv -> ReLU -> 2x2 average pool."""

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)

    def forward(self, x):
        return F.avg_pool2d(F.relu(self.conv(x)), 2)


class _Res2d(nn.Module):
    """Pre-activation: ReLU -> conv -> ReLU -> conv, plus the input."""

    def __init__(self, ch: int, k: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, k, padding=k // 2)
        self.conv2 = nn.Conv2d(ch, ch, k, padding=k // 2)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class _Same1d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, padding=k // 2)

    def forward(self, x):
        return F.relu(self.conv(x))


class _Down1d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride=2, padding=k // 2)

    def forward(self, x):
        return F.relu(self.conv(x))


class _Res1d(nn.Module):
    def __init__(self, ch: int, k: int = 3):
        super().__init__()
        self.conv1 = nn.Conv1d(ch, ch, k, padding=k // 2)
        self.conv2 = nn.Conv1d(ch, ch, k, padding=k // 2)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FaceEncoder(nn.Module):
    def __init__(self, cin: int = 15, ch: int = 128):
        super().__init__()
        layers: list[nn.Module] = [_Same2d(cin, 64, 7)]
        width = 64
        for group in range(5):
            last = group == 4
            layers += [_Res2d(width), _Down2d(width, width), _Same2d(width, ch, 1 if last else 3)]
            width = ch
        self.face_conv = nn.Sequential(*layers)

    def forward(self, x):
        return self.face_conv(x)


class AudioEncoder(nn.Module):
    def __init__(self, cin: int = 29, ch: int = 128):
        super().__init__()
        self.audio_conv = nn.Sequential(
            _Same1d(cin, ch, 7),
            _Res1d(ch),
            _Down1d(ch, ch),
            _Res1d(ch),
            _Down1d(ch, ch),
            _Res1d(ch),
            _Down1d(ch, ch),
            _Same1d(ch, ch, 3),
        )

    def forward(self, x):
        return self.audio_conv(x).mean(-1)  # (B,128): global average over time


class SyncNet(nn.Module):
    def __init__(self, face_channel: int = 15, audio_channel: int = 29, out_dim: int = 128):
        super().__init__()
        self.face_encoder = FaceEncoder(face_channel, out_dim)
        self.audio_encoder = AudioEncoder(audio_channel, out_dim)
        self.merge_encoder = nn.Sequential(
            nn.Conv2d(2 * out_dim, out_dim, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(out_dim, 1, 3, padding=1)
        )

    def forward(self, face: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        img = self.face_encoder(face)
        aud = self.audio_encoder(audio)[:, :, None, None].expand(-1, -1, *img.shape[-2:])
        return self.merge_encoder(torch.cat([img, aud], 1))


def mouth_region(crops: torch.Tensor, mouth: int, size: int = 256) -> torch.Tensor:
    """Cut rows [m/2, 3m/2) x cols [m/8, 9m/8) of face crops ``(B,C,H,W)`` and resize to ``size``^2."""
    m = mouth
    out = crops[:, :, m // 2 : m // 2 + m, m // 8 : m // 8 + m]
    if out.shape[-1] != size or out.shape[-2] != size:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
    return out
