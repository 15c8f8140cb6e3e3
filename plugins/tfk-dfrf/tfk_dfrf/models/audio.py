"""DFRF audio networks: ``AudioNet`` (DeepSpeech window -> 64-d code) and ``AudioAttNet`` (8-frame smoothing)."""

from __future__ import annotations

import torch
from torch import nn


class AudioNet(nn.Module):
    """``[B, 16, 29]`` DeepSpeech windows -> ``[B, dim_aud]`` (keys ``encoder_conv.*``, ``encoder_fc1.*``)."""

    def __init__(self, dim_aud: int = 64, win_size: int = 16):
        super().__init__()
        self.win_size = win_size
        self.dim_aud = dim_aud
        layers: list[nn.Module] = []
        for cin, cout in ((29, 32), (32, 32), (32, 64), (64, 64)):
            layers += [nn.Conv1d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.02, True)]
        self.encoder_conv = nn.Sequential(*layers)
        self.encoder_fc1 = nn.Sequential(nn.Linear(64, 64), nn.LeakyReLU(0.02, True), nn.Linear(64, dim_aud))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.win_size // 2
        x = x[:, 8 - half : 8 + half, :].permute(0, 2, 1)
        x = self.encoder_conv(x).squeeze(-1)
        return self.encoder_fc1(x)


class AudioAttNet(nn.Module):
    """Attention over ``seq_len`` consecutive audio codes ``[seq_len, 64]`` -> ``[64]``.

    The weights come from the first ``dim_aud`` (32) channels only, as in the original.
    """

    def __init__(self, dim_aud: int = 32, seq_len: int = 8):
        super().__init__()
        self.seq_len = seq_len
        self.dim_aud = dim_aud
        layers: list[nn.Module] = []
        for cin, cout in ((dim_aud, 16), (16, 8), (8, 4), (4, 2), (2, 1)):
            layers += [nn.Conv1d(cin, cout, 3, stride=1, padding=1), nn.LeakyReLU(0.02, True)]
        self.attentionConvNet = nn.Sequential(*layers)
        self.attentionNet = nn.Sequential(nn.Linear(seq_len, seq_len), nn.Softmax(dim=1))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The ``[seq_len]`` weights for one window ``x`` ``[seq_len, C]``."""
        y = x[..., : self.dim_aud].permute(1, 0).unsqueeze(0)
        y = self.attentionConvNet(y)
        return self.attentionNet(y.view(1, self.seq_len)).view(self.seq_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.attention(x)[:, None] * x).sum(0)


def smoothing_windows(n: int, smo_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices and validity mask of the windows ``[i - 4, i + 4)`` (zero-padded outside ``[0, n)``)."""
    half = smo_size // 2
    idx = torch.arange(n)[:, None] + torch.arange(-half, smo_size - half)[None]
    valid = (idx >= 0) & (idx < n)
    return idx.clamp(0, max(n - 1, 0)), valid


def audio_codes(
    audnet: AudioNet, audattnet: AudioAttNet | None, feats: torch.Tensor, smooth: bool, smo_size: int = 8
) -> torch.Tensor:
    """Per-frame audio codes ``[N, 64]`` from DeepSpeech windows ``[N, 16, 29]``.

    ``smooth`` (the original after ``nosmo_iters``): AudNet over the zero-padded window ``[i-4, i+4)`` of
    each frame, then AudAttNet. Otherwise AudNet per frame.
    """
    if not smooth or audattnet is None:
        return audnet(feats)
    idx, valid = smoothing_windows(feats.shape[0], smo_size)
    idx, valid = idx.to(feats.device), valid.to(feats.device)
    win = feats[idx] * valid[..., None, None].to(feats.dtype)  # [N, 8, 16, 29]
    codes = audnet(win.flatten(0, 1)).view(feats.shape[0], smo_size, -1)
    return torch.stack([audattnet(c) for c in codes])
