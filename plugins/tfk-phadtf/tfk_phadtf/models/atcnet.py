"""``ATC_net(70)``: per-frame MFCC encoder -> 3-layer LSTM -> 64 expression + 6 pose coefficients.

Parameter names follow the published ``atcnet_lstm_*.pth`` (plain state dicts): ``audio_eocder.{0,1,3,4,5}``
are conv(no bias)+BN+ReLU blocks (``.0`` conv, ``.1`` BN), ``audio_eocder_fc.{0,2}``, ``lstm``, ``lstm_fc.0``.
``width`` divides every hidden size (1 = the published network, 29,430,534 parameters); the input window
(28 MFCC frames x 12 coefficients) fixes the flattened size ``512 * 12 * 2 / width``.
"""

from __future__ import annotations

import torch
from torch import nn

PARA_DIM = 70  # exp 64 + angle 3 + trans 3
EXP_DIM = 64


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))


class ATCNet(nn.Module):
    """Audio (B, T, 28, 12) -> coefficients (B, T, para_dim)."""

    def __init__(self, para_dim: int = PARA_DIM, width: int = 1):
        super().__init__()
        c = [64 // width, 128 // width, 256 // width, 512 // width]
        self.width = width
        self.audio_eocder = nn.Sequential(
            _conv(1, c[0]),
            _conv(c[0], c[1]),
            nn.MaxPool2d(3, stride=(1, 2)),
            _conv(c[1], c[2]),
            _conv(c[2], c[2]),
            _conv(c[2], c[3]),
            nn.MaxPool2d(3, stride=(2, 2)),
        )
        hid = 256 // width
        self.audio_eocder_fc = nn.Sequential(
            nn.Linear(c[3] * 12 * 2, 2048 // width), nn.ReLU(True), nn.Linear(2048 // width, hid), nn.ReLU(True)
        )
        self.lstm = nn.LSTM(hid, hid, 3, batch_first=True)
        self.lstm_fc = nn.Sequential(nn.Linear(hid, para_dim))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.audio_eocder_fc(self.audio_eocder(x).flatten(1))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        b, t = audio.shape[:2]
        if self.training:  # step by step, so BatchNorm sees the original's per-step batches
            feat = torch.stack([self._encode(audio[:, k, None]) for k in range(t)], 1)
        else:  # eval BatchNorm is per-sample: encode every frame in one batch
            feat = self._encode(audio.reshape(b * t, 1, *audio.shape[2:])).reshape(b, t, -1)
        out, _ = self.lstm(feat)  # zero initial state, as the original
        return self.lstm_fc(out)
