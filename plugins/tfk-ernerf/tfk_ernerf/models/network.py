"""ER-NeRF head and torso networks (``nerf_triplane/network.py`` + renderer buffers), same keys and shapes.

The head is a density/colour field over the scene box: three 2-D hash planes (xy, yz, xz) give a 36-d
spatial code; a global audio code (AudioNet over an 8-frame window, then AudioAttNet) is weighted per point
by ``aud_ch_att_net`` ("region attention"), the blink scalar by ``eye_att_net``; ``sigma_net`` gives
``sigma = exp(h0)`` and a 64-d geometry feature that ``color_net`` turns into RGB with SH-4 view directions
and a per-frame code. The torso is a 2-D deformable image-space field over background pixel coordinates.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tfk_ernerf.models.encoders import FreqEncoder, GridEncoder, SHEncoder

#: ``--asr_model`` substring -> audio feature width (the original picks it the same way)
AUDIO_DIMS = {"esperanto": 44, "deepspeech": 29, "hubert": 1024}


def audio_in_dim(asr_model: str) -> int:
    for key, dim in AUDIO_DIMS.items():
        if key in asr_model:
            return dim
    return 32


@dataclass
class NetConfig:
    """Network options of the original ``main.py`` that change shapes or behaviour."""

    audio_in_dim: int = 29
    att: int = 2
    exp_eye: bool = True
    ind_dim: int = 4
    ind_dim_torso: int = 8
    ind_num: int = 10000
    torso: bool = False
    bound: float = 1.0
    torso_shrink: float = 0.8
    unc_loss: bool = True
    grid_size: int = 128
    density_thresh: float = 10.0
    density_thresh_torso: float = 0.01
    min_near: float = 0.05
    max_steps: int = 16
    dt_gamma: float = 1 / 256

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class AudioAttNet(nn.Module):
    """Temporal attention over the 8 audio codes of a window -> one smoothed code ``[1, dim]``."""

    def __init__(self, dim_aud: int = 32, seq_len: int = 8):
        super().__init__()
        self.seq_len = seq_len
        chans = [dim_aud, 16, 8, 4, 2, 1]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.Conv1d(a, b, kernel_size=3, stride=1, padding=1), nn.LeakyReLU(0.02)]
        self.attentionConvNet = nn.Sequential(*layers)  # noqa: N815 - checkpoint key
        self.attentionNet = nn.Sequential(nn.Linear(seq_len, seq_len), nn.Softmax(dim=1))  # noqa: N815

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attentionConvNet(x.permute(0, 2, 1))
        y = self.attentionNet(y.reshape(1, self.seq_len)).reshape(1, self.seq_len, 1)
        return (y * x).sum(dim=1)


class AudioNet(nn.Module):
    """Conv1d stack over a ``[B, C, W<=16]`` feature window -> ``[B, dim_aud]``."""

    def __init__(self, dim_in: int = 29, dim_aud: int = 32, win_size: int = 16):
        super().__init__()
        self.win_size = win_size
        chans = [dim_in, 32, 32, 64, 64]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            layers += [nn.Conv1d(a, b, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(0.02)]
        self.encoder_conv = nn.Sequential(*layers)
        self.encoder_fc1 = nn.Sequential(nn.Linear(64, 64), nn.LeakyReLU(0.02), nn.Linear(64, dim_aud))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.win_size // 2
        x = x[:, :, 8 - half : 8 + half]
        return self.encoder_fc1(self.encoder_conv(x).squeeze(-1))


class MLP(nn.Module):
    """Bias-free ReLU MLP (``net.{i}.weight``)."""

    def __init__(self, dim_in: int, dim_out: int, dim_hidden: int, num_layers: int):
        super().__init__()
        self.net = nn.ModuleList(
            nn.Linear(dim_in if i == 0 else dim_hidden, dim_out if i == num_layers - 1 else dim_hidden, bias=False)
            for i in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i != len(self.net) - 1:
                x = F.relu(x)
        return x


def _squash(h: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(h) * (1 + 2 * 0.001) - 0.001


class ERNeRF(nn.Module):
    """The whole model of one subject: head field, optional torso field, occupancy buffers."""

    def __init__(self, cfg: NetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or NetConfig()
        b = cfg.bound
        self.register_buffer("aabb_train", torch.tensor([-b, -b / 2, -b, b, b / 2, b], dtype=torch.float32))
        self.register_buffer("aabb_infer", torch.tensor([-b, -b / 2, -b, b, b / 2, b], dtype=torch.float32))
        if cfg.ind_dim > 0:
            self.individual_codes = nn.Parameter(torch.randn(cfg.ind_num, cfg.ind_dim) * 0.1)
        g = cfg.grid_size
        self.register_buffer("density_grid", torch.zeros(1, g**3))
        self.register_buffer("density_bitfield", torch.zeros(g**3 // 8, dtype=torch.uint8))
        self.register_buffer("step_counter", torch.zeros(16, 2, dtype=torch.int32))
        self.mean_density = 0.0
        self.mean_count = 0
        self.mean_density_torso = 0.0
        self.testing = False

        self.audio_dim = 32
        self.audio_net = AudioNet(cfg.audio_in_dim, self.audio_dim)
        if cfg.att > 0:
            self.audio_att_net = AudioAttNet(self.audio_dim)
        plane = dict(
            input_dim=2,
            num_levels=12,
            level_dim=1,
            base_resolution=64,
            log2_hashmap_size=14,
            desired_resolution=512 * b,
        )
        self.encoder_xy = GridEncoder(**plane)
        self.encoder_yz = GridEncoder(**plane)
        self.encoder_xz = GridEncoder(**plane)
        self.in_dim = 3 * self.encoder_xy.output_dim
        self.eye_att_net = MLP(self.in_dim, 1, 16, 2)
        self.eye_dim = 1 if cfg.exp_eye else 0
        self.sigma_net = MLP(self.in_dim + self.audio_dim + self.eye_dim, 1 + 64, 64, 3)
        self.encoder_dir = SHEncoder()
        self.color_net = MLP(16 + 64 + cfg.ind_dim, 3, 64, 2)
        self.unc_net = MLP(self.in_dim, 1, 32, 2)
        self.aud_ch_att_net = MLP(self.in_dim, self.audio_dim, 64, 2)

        if cfg.torso:
            self.anchor_points = nn.Parameter(
                torch.tensor([[0.01, 0.01, 0.1, 1], [-0.1, -0.1, 0.1, 1], [0.1, -0.1, 0.1, 1]])
            )
            if cfg.ind_dim_torso > 0:
                self.individual_codes_torso = nn.Parameter(torch.randn(cfg.ind_num, cfg.ind_dim_torso) * 0.1)
            self.register_buffer("density_grid_torso", torch.zeros(g**2))
            self.torso_deform_encoder = FreqEncoder(2, 8)
            self.anchor_encoder = FreqEncoder(6, 3)
            d_in = self.torso_deform_encoder.output_dim + self.anchor_encoder.output_dim + cfg.ind_dim_torso
            self.torso_deform_net = MLP(d_in, 2, 32, 3)
            self.torso_encoder = GridEncoder(
                input_dim=2,
                num_levels=16,
                level_dim=2,
                base_resolution=16,
                log2_hashmap_size=16,
                desired_resolution=2048,
                gridtype="tiled",
            )
            self.torso_net = MLP(self.torso_encoder.output_dim + d_in, 4, 32, 3)

    # -- head -----------------------------------------------------------------------------------
    def encode_x(self, xyz: torch.Tensor) -> torch.Tensor:
        b = self.cfg.bound
        return torch.cat(
            [
                self.encoder_xy(xyz[:, :2], bound=b),
                self.encoder_yz(xyz[:, 1:], bound=b),
                self.encoder_xz(xyz[:, [0, 2]], bound=b),
            ],
            dim=-1,
        )

    def encode_audio(self, a: torch.Tensor) -> torch.Tensor:
        """``[8, C, W]`` window (att > 0) or ``[1, C, W]`` -> ``[1, 32]``."""
        enc = self.audio_net(a)
        if self.cfg.att > 0:
            enc = self.audio_att_net(enc.unsqueeze(0))
        return enc

    def density(
        self, x: torch.Tensor, enc_a: torch.Tensor, e: torch.Tensor | None = None, enc_x: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if enc_x is None:
            enc_x = self.encode_x(x)
        att = self.aud_ch_att_net(enc_x)
        enc_w = enc_a.expand(enc_x.shape[0], -1) * att
        eye_att = None
        if e is not None and self.eye_dim:
            eye_att = torch.sigmoid(self.eye_att_net(enc_x))
            h = torch.cat([enc_x, enc_w, e.reshape(1, 1) * eye_att], dim=-1)
        else:
            h = torch.cat([enc_x, enc_w], dim=-1)
        h = self.sigma_net(h)
        return {
            "sigma": torch.exp(h[..., 0]),
            "geo_feat": h[..., 1:],
            "ambient_aud": att.norm(dim=-1, keepdim=True),
            "ambient_eye": eye_att,
        }

    def forward(
        self,
        x: torch.Tensor,
        d: torch.Tensor,
        enc_a: torch.Tensor,
        c: torch.Tensor | None,
        e: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Points ``x [M,3]``, unit dirs ``d [M,3]``, audio code ``[1,32]``, frame code ``[1,ind]``, eye ``[1,1]``."""
        enc_x = self.encode_x(x)
        out = self.density(x, enc_a, e, enc_x)
        h = [self.encoder_dir(d), out["geo_feat"]]
        if c is not None:
            h.append(c.reshape(1, -1).expand(x.shape[0], -1))
        out["rgb"] = _squash(self.color_net(torch.cat(h, dim=-1)))
        unc = torch.zeros_like(enc_x[:, :1]) if self.testing or not self.cfg.unc_loss else self.unc_net(enc_x.detach())
        out["uncertainty"] = F.softplus(unc)[:, 0]
        return out

    # -- torso ----------------------------------------------------------------------------------
    def forward_torso(
        self, x: torch.Tensor, pose: torch.Tensor, c: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pixel coords ``x [N,2]`` in [-1,1], head pose ``[1,4,4]`` -> ``(alpha [N,1], rgb [N,3], dx [N,2])``."""
        x = x * self.cfg.torso_shrink
        w = self.anchor_points[None] @ pose.permute(0, 2, 1).inverse()
        w = (w[:, :, :2] / w[:, :, 3, None] / w[:, :, 2, None]).reshape(1, -1)
        enc_anchor = self.anchor_encoder(w)
        enc_x = self.torso_deform_encoder(x)
        h = [enc_x, enc_anchor.expand(x.shape[0], -1)]
        if c is not None:
            h.append(c.reshape(1, -1).expand(x.shape[0], -1))
        h = torch.cat(h, dim=-1)
        dx = self.torso_deform_net(h)
        xd = (x + dx).clamp(-1, 1)
        out = self.torso_net(torch.cat([self.torso_encoder(xd, bound=1), h], dim=-1))
        return _squash(out[..., :1]), _squash(out[..., 1:]), dx

    # -- optimiser groups (``get_params``) ------------------------------------------------------
    def param_groups(self, lr: float, lr_net: float, wd: float = 0.0) -> list[dict[str, Any]]:
        """The original groups: grid encoders without an explicit ``weight_decay`` (AdamW's default applies)."""
        if self.cfg.torso:
            groups = [
                {"params": list(self.torso_encoder.parameters()), "lr": lr},
                {"params": list(self.torso_net.parameters()), "lr": lr_net, "weight_decay": wd},
                {"params": list(self.torso_deform_net.parameters()), "lr": lr_net, "weight_decay": wd},
                {"params": [self.anchor_points], "lr": lr_net, "weight_decay": wd},
            ]
            if self.cfg.ind_dim_torso > 0:
                groups.append({"params": [self.individual_codes_torso], "lr": lr_net, "weight_decay": wd})
            return groups
        groups = [
            {"params": list(self.audio_net.parameters()), "lr": lr_net, "weight_decay": wd},
            {"params": list(self.encoder_xy.parameters()), "lr": lr},
            {"params": list(self.encoder_yz.parameters()), "lr": lr},
            {"params": list(self.encoder_xz.parameters()), "lr": lr},
            {"params": list(self.sigma_net.parameters()), "lr": lr_net, "weight_decay": wd},
            {"params": list(self.color_net.parameters()), "lr": lr_net, "weight_decay": wd},
        ]
        if self.cfg.att > 0:
            groups.append({"params": list(self.audio_att_net.parameters()), "lr": lr_net * 5, "weight_decay": 1e-4})
        if self.cfg.ind_dim > 0:
            groups.append({"params": [self.individual_codes], "lr": lr_net, "weight_decay": wd})
        for net in (self.aud_ch_att_net, self.unc_net, self.eye_att_net):
            groups.append({"params": list(net.parameters()), "lr": lr_net, "weight_decay": wd})
        return groups

    def head_parameters(self) -> list[nn.Parameter]:
        torso_prefix = ("anchor_points", "individual_codes_torso", "torso_")
        return [p for n, p in self.named_parameters() if not n.startswith(torso_prefix)]
