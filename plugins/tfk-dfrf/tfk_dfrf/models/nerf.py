"""DFRF's NeRF MLP (``Face_Feature_NeRF``) and its wrapper with the shared slot attention (``nerf_attention_model``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tfk_dfrf.models.reference import SlotAttention

PTS_DIM = 63  # PE10 of xyz
VIEW_DIM = 27  # PE4 of the view direction
AUD_DIM = 64
FUSED_DIM = 256  # 2 slots x 128


class FaceFeatureNeRF(nn.Module):
    """Input ``[fused 256 ‖ PE(x) 63 ‖ audio 64 ‖ PE(d) 27]`` -> ``[rgb 3 (logits) ‖ sigma 1]``.

    D=8, W=256 with a skip at layer 4; three view layers (283->128, 2x 128->128); ``feature_linear`` exists in
    checkpoints but is unused, as in the original.
    """

    def __init__(
        self,
        D: int = 8,
        W: int = 256,
        input_ch: int = PTS_DIM,
        input_ch_views: int = VIEW_DIM,
        dim_aud: int = AUD_DIM,
        skips: tuple[int, ...] = (4,),
        dim_image_features: int = FUSED_DIM,
    ):
        super().__init__()
        self.D, self.W = D, W
        self.input_ch, self.input_ch_views, self.dim_aud = input_ch, input_ch_views, dim_aud
        self.dim_image_features = dim_image_features
        self.skips = tuple(skips)
        self.in_dim = input_ch + dim_aud + dim_image_features
        self.pts_linears = nn.ModuleList(
            [nn.Linear(self.in_dim, W)]
            + [nn.Linear(W + self.in_dim, W) if i in self.skips else nn.Linear(W, W) for i in range(D - 1)]
        )
        self.views_linears = nn.ModuleList(
            [nn.Linear(input_ch_views + W, W // 2)] + [nn.Linear(W // 2, W // 2) for _ in range(D // 4)]
        )
        self.feature_linear = nn.Linear(W, W)
        self.alpha_linear = nn.Linear(W, 1)
        self.rgb_linear = nn.Linear(W // 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inp, views = torch.split(x, [self.in_dim, self.input_ch_views], dim=-1)
        h = inp
        for i, layer in enumerate(self.pts_linears):
            h = F.relu(layer(h))
            if i in self.skips:
                h = torch.cat([inp, h], -1)
        alpha = self.alpha_linear(h)
        h = torch.cat([h, views], -1)
        for layer in self.views_linears:
            h = F.relu(layer(h))
        return torch.cat([self.rgb_linear(h), alpha], -1)


class NeRFWithAttention(nn.Module):
    """``nerf_attention_model``: state-dict keys ``nerf_model.*`` and ``slot_att.*`` (the shared SlotAttention)."""

    def __init__(self, nerf_model: FaceFeatureNeRF, slot_att: SlotAttention):
        super().__init__()
        self.nerf_model = nerf_model
        self.slot_att = slot_att

    def forward(
        self,
        nerf_inputs: torch.Tensor,
        local: torch.Tensor,
        noise: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``nerf_inputs`` ``[n, 63+64+27]``, ``local`` ``[R, n, 130]`` -> raw ``[n, 4]``."""
        pe = nerf_inputs[..., :PTS_DIM]
        pe = pe[:, None, :].expand(-1, local.shape[0], -1)
        fused = self.slot_att(local.permute(1, 0, 2), pe, noise=noise, generator=generator)
        return self.nerf_model(torch.cat((fused, nerf_inputs), -1))
