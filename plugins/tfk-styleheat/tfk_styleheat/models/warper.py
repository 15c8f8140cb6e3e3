"""PIRender's VideoWarper: ``MappingNet`` (73×27 3DMM window -> 256-d descriptor) and ``WarpingNet``
(ADAIN hourglass on the 256² image -> 64² flow). Keys: ``mapping_net.first.0``, ``mapping_net.encoder{0,1,2}.1``,
``warping_net.hourglass.encoder.{input_layer, encoder0..4}``, ``warping_net.hourglass.decoder.decoder{2,3,4}``,
``warping_net.flow_out.{0 (LayerNorm2d), 2 (conv7)}``. ADAIN: InstanceNorm(affine=False)·(1+γ)+β with
γ, β from ``mlp_shared`` (Linear+ReLU, 128) -> ``mlp_gamma`` / ``mlp_beta``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.flow import flow_to_deformation, warp

__all__ = ["ADAIN", "LayerNorm2d", "MappingNet", "VideoWarper", "WarpingNet"]

COEFF_NC = 73
WINDOW = 27


class LayerNorm2d(nn.Module):
    def __init__(self, n: int, affine: bool = True):
        super().__init__()
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(n, 1, 1))
            self.bias = nn.Parameter(torch.zeros(n, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[1:]
        if self.affine:
            return F.layer_norm(x, shape, self.weight.expand(shape), self.bias.expand(shape))
        return F.layer_norm(x, shape)


class ADAIN(nn.Module):
    def __init__(self, norm_nc: int, feature_nc: int, hidden: int = 128):
        super().__init__()
        self.mlp_shared = nn.Sequential(nn.Linear(feature_nc, hidden), nn.ReLU())
        self.mlp_gamma = nn.Linear(hidden, norm_nc)
        self.mlp_beta = nn.Linear(hidden, norm_nc)

    def forward(self, x: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        a = self.mlp_shared(feature.reshape(feature.shape[0], -1))
        gamma = self.mlp_gamma(a)[..., None, None]
        beta = self.mlp_beta(a)[..., None, None]
        return F.instance_norm(x) * (1 + gamma) + beta


class _EncoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, feature_nc: int):
        super().__init__()
        self.conv_0 = nn.Conv2d(cin, cout, 4, 2, 1)
        self.conv_1 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.norm_0 = ADAIN(cin, feature_nc)
        self.norm_1 = ADAIN(cout, feature_nc)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.conv_0(F.leaky_relu(self.norm_0(x, z), 0.1))
        return self.conv_1(F.leaky_relu(self.norm_1(x, z), 0.1))


class _DecoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int, hidden: int, feature_nc: int):
        super().__init__()
        self.conv_0 = nn.Conv2d(cin, hidden, 3, 1, 1)
        self.conv_1 = nn.ConvTranspose2d(hidden, cout, 3, 2, 1, output_padding=1)
        self.conv_s = nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)
        self.norm_0 = ADAIN(cin, feature_nc)
        self.norm_1 = ADAIN(hidden, feature_nc)
        self.norm_s = ADAIN(cin, feature_nc)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        xs = self.conv_s(F.leaky_relu(self.norm_s(x, z), 0.1))
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, z), 0.1))
        return xs + self.conv_1(F.leaky_relu(self.norm_1(dx, z), 0.1))


class _HourglassEncoder(nn.Module):
    def __init__(self, image_nc: int, feature_nc: int, ngf: int, max_nc: int, layers: int):
        super().__init__()
        self.layers = layers
        self.input_layer = nn.Conv2d(image_nc, ngf, 7, 1, 3)
        for i in range(layers):
            cin, cout = min(ngf * 2**i, max_nc), min(ngf * 2 ** (i + 1), max_nc)
            setattr(self, f"encoder{i}", _EncoderBlock(cin, cout, feature_nc))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> list[torch.Tensor]:
        out = [self.input_layer(x)]
        for i in range(self.layers):
            out.append(getattr(self, f"encoder{i}")(out[-1], z))
        return out


class _HourglassDecoder(nn.Module):
    def __init__(self, feature_nc: int, ngf: int, max_nc: int, enc_layers: int, dec_layers: int):
        super().__init__()
        self.levels = list(range(enc_layers - dec_layers, enc_layers))[::-1]
        for i in self.levels:
            cin = min(ngf * 2 ** (i + 1), max_nc) * (1 if i == enc_layers - 1 else 2)
            cout = min(ngf * 2**i, max_nc)
            setattr(self, f"decoder{i}", _DecoderBlock(cin, cout, cout, feature_nc))
        self.output_nc = cout * 2

    def forward(self, feats: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
        feats = list(feats)
        out = feats.pop()
        for i in self.levels:
            out = torch.cat((getattr(self, f"decoder{i}")(out, z), feats.pop()), 1)
        return out


class _Hourglass(nn.Module):
    def __init__(self, image_nc, feature_nc, ngf, max_nc, enc_layers, dec_layers):
        super().__init__()
        self.encoder = _HourglassEncoder(image_nc, feature_nc, ngf, max_nc, enc_layers)
        self.decoder = _HourglassDecoder(feature_nc, ngf, max_nc, enc_layers, dec_layers)
        self.output_nc = self.decoder.output_nc

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x, z), z)


class MappingNet(nn.Module):
    """Conv1d k7 then 3× [LeakyReLU(0.1), Conv1d k3 dilation 3] with a cropped residual; mean over time."""

    def __init__(self, coeff_nc: int = COEFF_NC, descriptor_nc: int = 256, layer: int = 3):
        super().__init__()
        self.layer = layer
        self.first = nn.Sequential(nn.Conv1d(coeff_nc, descriptor_nc, 7))
        for i in range(layer):
            setattr(
                self,
                f"encoder{i}",
                nn.Sequential(nn.LeakyReLU(0.1), nn.Conv1d(descriptor_nc, descriptor_nc, 3, dilation=3)),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.first(x)
        for i in range(self.layer):
            out = getattr(self, f"encoder{i}")(out) + out[:, :, 3:-3]
        return out.mean(-1, keepdim=True)


class WarpingNet(nn.Module):
    def __init__(self, image_nc=3, descriptor_nc=256, base_nc=32, max_nc=256, encoder_layer=5, decoder_layer=3):
        super().__init__()
        self.hourglass = _Hourglass(image_nc, descriptor_nc, base_nc, max_nc, encoder_layer, decoder_layer)
        nc = self.hourglass.output_nc
        self.flow_out = nn.Sequential(LayerNorm2d(nc), nn.LeakyReLU(0.1), nn.Conv2d(nc, 2, 7, 1, 3))

    def forward(self, image: torch.Tensor, descriptor: torch.Tensor) -> dict[str, torch.Tensor]:
        flow = self.flow_out(self.hourglass(image, descriptor))
        deformation = flow_to_deformation(flow)
        return {"flow_field": flow, "deformation": deformation, "warp_image": warp(image, deformation)}


class VideoWarper(nn.Module):
    def __init__(self, narrow: float = 1.0):
        super().__init__()
        d = max(2, int(256 * narrow))
        self.mapping_net = MappingNet(COEFF_NC, d, 3)
        self.warping_net = WarpingNet(3, d, max(1, int(32 * narrow)), max(1, int(256 * narrow)), 5, 3)

    def forward(self, image: torch.Tensor, semantics: torch.Tensor) -> dict[str, torch.Tensor]:
        """``image [B,3,256,256]``, ``semantics [B,73,27]`` -> flow, deformation, warped image, descriptor."""
        descriptor = self.mapping_net(semantics)
        out = self.warping_net(image, descriptor)
        out["descriptor"] = descriptor
        return out
