"""The memory-augmented GAN's generator (``unetac_adain_256``) and discriminator (PatchGAN ``basic``).

Parameter names follow the published ``*_net_G.pth`` / ``*_net_D.pth``. The generator's encoder/decoder blocks
register their conv both as ``conv``/``deconv`` and inside ``body`` (``eK.conv`` and ``eK.body.1`` are the same
tensor in the checkpoint), and every AdaIN layer carries unused ``running_mean``/``running_var`` buffers.
``width`` divides the channel counts and the AdaIN MLP's hidden size (1 = published: 259,055,556 parameters).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class AdaIN(nn.Module):
    """Instance norm whose per-sample scale/shift come from the identity MLP (``set_params`` before use)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("running_mean", torch.zeros(num_features))  # unused, kept for the checkpoint
        self.register_buffer("running_var", torch.ones(num_features))
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is None or self.bias is None:
            raise RuntimeError("AdaIN parameters were not assigned")
        b, c = x.shape[:2]
        y = F.instance_norm(x, eps=self.eps)  # == batch_norm(training=True) on the (1, B*C, H, W) view
        return y * self.weight.reshape(b, c, 1, 1) + self.bias.reshape(b, c, 1, 1)


class EncoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, adain: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2), self.conv]
        if adain:
            layers.append(AdaIN(cout))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class DecoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, dropout: bool = False):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
        layers: list[nn.Module] = [nn.ReLU(), self.deconv, AdaIN(cout)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class DecoderACBlock(nn.Module):
    """Last block: ConvT to half the input channels + AdaIN, then colour (tanh) and attention (sigmoid) heads."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        half = cin // 2
        self.deconv = nn.ConvTranspose2d(cin, half, 4, 2, 1)
        self.body = nn.Sequential(nn.ReLU(), self.deconv, AdaIN(half), nn.ReLU())
        self.img_reg = nn.Sequential(nn.Conv2d(half, cout, 7, 1, 3), nn.Tanh())
        self.attention_reg = nn.Sequential(nn.Conv2d(half, 1, 7, 1, 3), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return self.img_reg(f), self.attention_reg(f)


class MLP(nn.Module):
    def __init__(self, din: int, dout: int, dim: int, n_blk: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(din, dim), nn.ReLU()]
        for _ in range(n_blk - 2):
            layers += [nn.Linear(dim, dim), nn.ReLU()]
        layers.append(nn.Linear(dim, dout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flatten(1))


class Generator(nn.Module):
    """``unet_generator_ac_adain``: (B, 3*Nw, 256, 256) frames + (B, 512) identity -> colour, attention."""

    def __init__(self, input_nc: int = 9, output_nc: int = 3, ngf: int = 64, feat_dim: int = 512, width: int = 1):
        super().__init__()
        g = ngf // width
        self.e1 = nn.Conv2d(input_nc, g, 4, 2, 1)
        self.e2 = EncoderBlock(g, g * 2)
        self.e3 = EncoderBlock(g * 2, g * 4)
        self.e4 = EncoderBlock(g * 4, g * 8)
        self.e5 = EncoderBlock(g * 8, g * 8)
        self.e6 = EncoderBlock(g * 8, g * 8)
        self.e7 = EncoderBlock(g * 8, g * 8)
        self.e8 = EncoderBlock(g * 8, g * 8, adain=False)
        self.d1 = DecoderBlock(g * 8, g * 8, dropout=True)
        self.d2 = DecoderBlock(g * 16, g * 8, dropout=True)
        self.d3 = DecoderBlock(g * 16, g * 8, dropout=True)
        self.d4 = DecoderBlock(g * 16, g * 8)
        self.d5 = DecoderBlock(g * 16, g * 4)
        self.d6 = DecoderBlock(g * 8, g * 2)
        self.d7 = DecoderBlock(g * 4, g)
        self.d8 = DecoderACBlock(g * 2, output_nc)
        n = self.num_adain_params()
        self.mlp = MLP(feat_dim, n, n // width, 3)

    def _adains(self) -> list[AdaIN]:
        blocks = [getattr(self, f"e{k}") for k in range(1, 9)] + [getattr(self, f"d{k}") for k in range(1, 9)]
        return [m for b in blocks for m in b.modules() if isinstance(m, AdaIN)]

    def num_adain_params(self) -> int:
        return sum(2 * m.num_features for m in self._adains())

    def assign_adain_params(self, params: torch.Tensor) -> None:
        """Slice ``[mean C | std C]`` per AdaIN layer, in the original's order (e1..e8, d1..d8)."""
        k = 0
        for m in self._adains():
            c = m.num_features
            m.bias = params[:, k : k + c]
            m.weight = params[:, k + c : k + 2 * c]
            k += 2 * c

    def forward(self, x: torch.Tensor, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.assign_adain_params(self.mlp(feat))
        # The original's LeakyReLU is in place: each encoder block rewrites its input, so the skip
        # connections carry LeakyReLU(e_k), not e_k. Reproduced explicitly here.
        skips = []
        h = self.e1(x)
        for k in range(2, 9):
            a = F.leaky_relu(h, 0.2)
            skips.append(a)
            h = getattr(self, f"e{k}").body[1:](a)
        for k in range(1, 8):
            h = torch.cat([getattr(self, f"d{k}")(h), skips[7 - k]], 1)
        return self.d8(h)


def compose(color: torch.Tensor, attention: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Output = att * A_t + (1 - att) * colour (A_t: the current blended frame, in [-1, 1])."""
    return attention * current + (1 - attention) * color


class Discriminator(nn.Module):
    """pix2pix ``NLayerDiscriminator`` (n_layers 3, BatchNorm): (B, 12, 256, 256) -> (B, 1, 30, 30) logits."""

    def __init__(self, input_nc: int = 12, ndf: int = 64, n_layers: int = 3, width: int = 1):
        super().__init__()
        f = ndf // width
        layers: list[nn.Module] = [nn.Conv2d(input_nc, f, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(f * prev, f * mult, 4, 2, 1, bias=False),
                nn.BatchNorm2d(f * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(f * prev, f * mult, 4, 1, 1, bias=False),
            nn.BatchNorm2d(f * mult),
            nn.LeakyReLU(0.2, True),
        ]
        layers.append(nn.Conv2d(f * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
