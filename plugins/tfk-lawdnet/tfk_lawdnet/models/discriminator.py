"""The PatchGAN discriminators of LawDNet training (``Discriminator(num_channels, 64, 4, 256)``, no norm).

4 x [Conv(k4, no padding) -> LeakyReLU 0.2 -> AvgPool2 (all but the last)], widths 128, 256, 256, 256,
then a 1x1 conv to one channel. ``net_dI`` takes frames (3 channels, 2,628,737 parameters), ``net_dV``
5-frame clips stacked on channels (15 channels, 2,653,313 parameters). At 468x360 the map is 52x39.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Discriminator", "DownBlock"]


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 4, pool: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv(x), 0.2)
        return F.avg_pool2d(x, 2) if self.pool else x


class Discriminator(nn.Module):
    def __init__(self, num_channels: int = 3, block_expansion: int = 64, num_blocks: int = 4, max_features: int = 256):
        super().__init__()
        blocks, cin = [], num_channels
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2 ** (i + 1))
            blocks.append(DownBlock(cin, cout, 4, pool=i != num_blocks - 1))
            cin = cout
        self.down_blocks = nn.ModuleList(blocks)
        self.conv = nn.Conv2d(cin, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.down_blocks:
            x = block(x)
        return self.conv(x)
