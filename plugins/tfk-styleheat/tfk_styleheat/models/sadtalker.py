"""SadTalker (<= 48f328a) audio-to-coefficient networks used by StyleHEAT's audio mode.

* ``Audio2Exp`` (``auido2exp_00300-model.pth['model']``, keys ``netG.*``): ``SimpleWrapperV2`` = a Wav2Lip-style
  audio conv encoder (mel window ``[1,80,16]`` -> 512) and ``mapping1`` Linear(512+64+1 -> 64) on
  [audio, reference expression, blink ratio].
* ``Audio2Pose`` (``auido2pose_00140-model.pth['model']``, keys ``audio_encoder.audio_encoder.*``, ``netG.*``
  (CVAE: ``encoder``/``decoder`` with ``resunet``, ``MLP``, ``linear_audio``, ``classbias``), ``netD_motion.*``):
  chunks of 32 frames, 46 pose styles, z ~ N(0, I_64); pose = reference + predicted motion.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["Audio2Exp", "Audio2Pose", "ExpNet", "audio_to_coeffs", "blink_ratios"]

SEQ_LEN = 32
LATENT = 64
NUM_CLASSES = 46


class _ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride, padding: int, residual: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding), nn.BatchNorm2d(cout))
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        return torch.relu(out + x if self.residual else out)


def wav2lip_audio_encoder(narrow: float = 1.0) -> nn.Sequential:
    """The Wav2Lip audio encoder: ``[N,1,80,16]`` -> ``[N,512,1,1]``."""

    def c(n: int) -> int:
        return max(1, int(n * narrow))

    return nn.Sequential(
        _ConvBN(1, c(32), 3, 1, 1),
        _ConvBN(c(32), c(32), 3, 1, 1, True),
        _ConvBN(c(32), c(32), 3, 1, 1, True),
        _ConvBN(c(32), c(64), 3, (3, 1), 1),
        _ConvBN(c(64), c(64), 3, 1, 1, True),
        _ConvBN(c(64), c(64), 3, 1, 1, True),
        _ConvBN(c(64), c(128), 3, 3, 1),
        _ConvBN(c(128), c(128), 3, 1, 1, True),
        _ConvBN(c(128), c(128), 3, 1, 1, True),
        _ConvBN(c(128), c(256), 3, (3, 2), 1),
        _ConvBN(c(256), c(256), 3, 1, 1, True),
        _ConvBN(c(256), c(512), 3, 1, 0),
        _ConvBN(c(512), 512, 1, 1, 0),
    )


class ExpNet(nn.Module):
    """``SimpleWrapperV2``: (mel windows, reference exp, blink ratio) -> expression 64."""

    def __init__(self, narrow: float = 1.0):
        super().__init__()
        self.audio_encoder = wav2lip_audio_encoder(narrow)
        self.mapping1 = nn.Linear(512 + 64 + 1, 64)

    def forward(self, mel: torch.Tensor, ref: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """``mel [B*T,1,80,16]``, ``ref [B,T,64]``, ``ratio [B,T]`` -> ``[B,T,64]``."""
        a = self.audio_encoder(mel).reshape(mel.shape[0], -1)
        y = self.mapping1(torch.cat((a, ref.reshape(a.shape[0], -1), ratio.reshape(a.shape[0], -1)), 1))
        return y.reshape(ref.shape[0], ref.shape[1], -1)


class Audio2Exp(nn.Module):
    def __init__(self, narrow: float = 1.0):
        super().__init__()
        self.netG = ExpNet(narrow)

    @torch.no_grad()
    def test(self, mels: torch.Tensor, ref_exp: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """``mels [B,T,1,80,16]``, ``ref_exp [B,1,64]``, ``ratio [B,T]`` -> ``[B,T,64]`` (10 frames at a time)."""
        b, t = mels.shape[:2]
        out = []
        for i in range(0, t, 10):
            m = mels[:, i : i + 10]
            n = m.shape[1]
            out.append(self.netG(m.reshape(-1, 1, 80, 16), ref_exp.expand(b, n, 64), ratio[:, i : i + 10]))
        return torch.cat(out, 1)


class _ResidualConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride, padding: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cout, 3, stride, padding),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.conv_skip = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x) + self.conv_skip(x)


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.upsample = nn.ConvTranspose2d(cin, cout, (2, 1), (2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


class ResUnet(nn.Module):
    def __init__(self, f=(32, 64, 128, 256)):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(1, f[0], 3, padding=1), nn.BatchNorm2d(f[0]), nn.ReLU(), nn.Conv2d(f[0], f[0], 3, padding=1)
        )
        self.input_skip = nn.Sequential(nn.Conv2d(1, f[0], 3, padding=1))
        self.residual_conv_1 = _ResidualConv(f[0], f[1], (2, 1), 1)
        self.residual_conv_2 = _ResidualConv(f[1], f[2], (2, 1), 1)
        self.bridge = _ResidualConv(f[2], f[3], (2, 1), 1)
        self.upsample_1 = _Up(f[3], f[3])
        self.up_residual_conv1 = _ResidualConv(f[3] + f[2], f[2], 1, 1)
        self.upsample_2 = _Up(f[2], f[2])
        self.up_residual_conv2 = _ResidualConv(f[2] + f[1], f[1], 1, 1)
        self.upsample_3 = _Up(f[1], f[1])
        self.up_residual_conv3 = _ResidualConv(f[1] + f[0], f[0], 1, 1)
        self.output_layer = nn.Sequential(nn.Conv2d(f[0], 1, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x) + self.input_skip(x)
        x2 = self.residual_conv_1(x1)
        x3 = self.residual_conv_2(x2)
        x4 = self.upsample_1(self.bridge(x3))
        x6 = self.upsample_2(self.up_residual_conv1(torch.cat((x4, x3), 1)))
        x8 = self.upsample_3(self.up_residual_conv2(torch.cat((x6, x2), 1)))
        return self.output_layer(self.up_residual_conv3(torch.cat((x8, x1), 1)))


class _CVAEEncoder(nn.Module):
    def __init__(self, sizes=(192, 128)):
        super().__init__()
        self.resunet = ResUnet()
        first = sizes[0] + LATENT + SEQ_LEN * 6 + 6
        self.MLP = nn.Sequential()
        for i, (a, b) in enumerate(zip((first, *sizes[1:-1]), sizes[1:], strict=True)):
            self.MLP.add_module(f"L{i}", nn.Linear(a, b))
            self.MLP.add_module(f"A{i}", nn.ReLU())
        self.linear_means = nn.Linear(sizes[-1], LATENT)
        self.linear_logvar = nn.Linear(sizes[-1], LATENT)
        self.linear_audio = nn.Linear(512, 6)
        self.classbias = nn.Parameter(torch.randn(NUM_CLASSES, LATENT))


class _CVAEDecoder(nn.Module):
    def __init__(self, sizes=(128, 192)):
        super().__init__()
        self.resunet = ResUnet()
        self.MLP = nn.Sequential()
        ins = (LATENT + SEQ_LEN * 6 + 6, *sizes[:-1])
        for i, (a, b) in enumerate(zip(ins, sizes, strict=True)):
            self.MLP.add_module(f"L{i}", nn.Linear(a, b))
            self.MLP.add_module(
                f"A{i}" if i + 1 < len(sizes) else "sigmoid", nn.ReLU() if i + 1 < len(sizes) else nn.Sigmoid()
            )
        self.pose_linear = nn.Linear(6, 6)
        self.linear_audio = nn.Linear(512, 6)
        self.classbias = nn.Parameter(torch.randn(NUM_CLASSES, LATENT))

    def forward(self, z: torch.Tensor, cls: torch.Tensor, ref: torch.Tensor, audio_emb: torch.Tensor) -> torch.Tensor:
        b = z.shape[0]
        a = self.linear_audio(audio_emb).reshape(b, -1)
        x = self.MLP(torch.cat((ref, z + self.classbias[cls], a), -1)).reshape(b, SEQ_LEN, -1)
        return self.pose_linear(self.resunet(x.unsqueeze(1)).squeeze(1))


class _CVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = _CVAEEncoder()
        self.decoder = _CVAEDecoder()


class _ConvNormRelu1d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, padding: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride, padding, bias=False)
        self.norm = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class _PoseDiscriminator(nn.Module):
    """Training-only motion discriminator (kept for the key layout)."""

    def __init__(self):
        super().__init__()
        self.seq = nn.Sequential(
            _ConvNormRelu1d(6, 256, 4, 2, 1),
            _ConvNormRelu1d(256, 512, 4, 2, 1),
            _ConvNormRelu1d(512, 1024, 3, 1, 1),
            nn.Conv1d(1024, 1, 3, 1, 1),
        )


class _AudioEncoder(nn.Module):
    def __init__(self, narrow: float = 1.0):
        super().__init__()
        self.audio_encoder = wav2lip_audio_encoder(narrow)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """``[B,T,1,80,16]`` -> ``[B,T,512]``."""
        b, t = mels.shape[:2]
        return self.audio_encoder(mels.reshape(b * t, 1, 80, 16)).reshape(b, t, -1)


class Audio2Pose(nn.Module):
    def __init__(self, narrow: float = 1.0):
        super().__init__()
        self.audio_encoder = _AudioEncoder(narrow)
        self.netG = _CVAE()
        self.netD_motion = _PoseDiscriminator()

    @torch.no_grad()
    def test(self, mels: torch.Tensor, ref_pose: torch.Tensor, pose_style: int, generator: torch.Generator | None):
        """``mels [B,T,1,80,16]``, ``ref_pose [B,6]`` -> pose ``[B,T,6]`` (frame 0 is the reference)."""
        b, t = mels.shape[:2]
        cls = torch.full((b,), int(pose_style), dtype=torch.long, device=mels.device)
        use = mels[:, 1:]
        n = t - 1
        motion = [torch.zeros(b, 1, 6, dtype=ref_pose.dtype, device=ref_pose.device)]

        def chunk(m: torch.Tensor) -> torch.Tensor:
            z = torch.randn(b, LATENT, generator=generator).to(m)
            return self.netG.decoder(z, cls, ref_pose, self.audio_encoder(m))

        for i in range(n // SEQ_LEN):
            motion.append(chunk(use[:, i * SEQ_LEN : (i + 1) * SEQ_LEN]))
        re = n % SEQ_LEN
        if re:
            if n >= SEQ_LEN:
                motion.append(chunk(use[:, -SEQ_LEN:])[:, -re:])
            else:  # fewer than 32 frames: pad by repeating the last window (the original needs >= 32)
                pad = use[:, -1:].expand(b, SEQ_LEN - n, *use.shape[2:])
                motion.append(chunk(torch.cat((use, pad), 1))[:, :re])
        return ref_pose.unsqueeze(1) + torch.cat(motion, 1)


def blink_ratios(n: int, rng: np.random.Generator) -> np.ndarray:
    """Random eye blinks (SadTalker's ``generate_blink_seq_randomly``): ``[n]`` in [0, 1]."""
    ratio = np.zeros(n, np.float32)
    if n <= 20:
        return ratio
    i = 0
    while i < n:
        start = int(rng.integers(min(10, n), max(min(n // 2, 70), min(10, n) + 1)))
        if i + start + 5 <= n - 1:
            ratio[i + start : i + start + 5] = (0.5, 0.9, 1.0, 0.9, 0.5)
            i += start + 5
        else:
            break
    return ratio


def _savgol(pose: np.ndarray) -> np.ndarray:
    from scipy.signal import savgol_filter

    t = pose.shape[1]
    window = min(13, t if t % 2 else t - 1)
    return pose if window < 3 else savgol_filter(pose, window, 2, axis=1)


@torch.no_grad()
def audio_to_coeffs(
    mels: np.ndarray, source70: np.ndarray, exp_net: Audio2Exp, pose_net: Audio2Pose, pose_style: int, seed: int
) -> np.ndarray:
    """Mel windows ``[T,80,16]`` + source ``[70]`` (exp 64, angle 3, trans 3) -> ``[T,70]`` coefficients."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(int(seed))
    device = next(exp_net.parameters()).device
    m = torch.as_tensor(np.asarray(mels, np.float32), device=device)[None, :, None]
    ref = torch.as_tensor(np.asarray(source70, np.float32), device=device)[None]
    ratio = torch.as_tensor(blink_ratios(m.shape[1], rng), device=device)[None]
    exp = exp_net.test(m, ref[:, None, :64], ratio)
    pose = pose_net.test(m, ref[:, 64:70], pose_style, gen)
    pose = _savgol(pose.cpu().numpy())
    return np.concatenate((exp.cpu().numpy()[0], pose[0]), 1).astype(np.float32)
