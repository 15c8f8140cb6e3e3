"""The LawDNet generator, re-implemented with the published checkpoint's exact parameter names and shapes.

Inputs per frame: the masked source crop ``(B,3,H,W)``, 5 reference crops stacked on channels
``(B,15,H,W)`` (all RGB in [0,1]) and a DeepSpeech window ``(B,29,5)``; output ``(B,3,H,W)`` in [0,1].
At mouth 288 the crop is 468x360. The network is resolution-agnostic: the one size-dependent tensor,
the ``trans_conv`` output, is interpolated to 8x6.

Two quirks of the original are reproduced on purpose (the published weights were trained through them):

* only the *last* Local Affine Warping branch affects the output. Both branches read the reference
  feature and the result is overwritten, so ``lawLayer_list.0`` / ``appearance_conv_list.0`` are dead
  weights that are nonetheless in the checkpoint. They are held (strict loading) but, unless
  ``compute_dead_layer=True``, not computed.
* the LAW control grid ``(B,C,G,G,2)`` is reshaped to ``(B,2C,G,G)`` through a non-identity
  transpose/permute/view before it is resized, and viewed back as ``(B,C,H,W,2)`` afterwards
  (:func:`law_grid_layout`), so even an identity warp samples a scrambled grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CrossAttention",
    "LawDNet",
    "LocalAffineWarp",
    "ReferenceFeatures",
    "crop_size",
    "law_grid_layout",
    "standard_grid",
]

TOKEN_HW = (8, 6)  # image tokens of the cross-attention


def crop_size(mouth: int) -> tuple[int, int]:
    """Face-crop ``(H, W)`` for a mouth region size: W = 1.25 m, H = 1.3 W (288 -> 468x360)."""
    w = int(mouth * 1.25)
    return int(w * 1.3), w


# --------------------------------------------------------------------------------------------- blocks
class SameBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class DownBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=2, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class UpBlock2d(nn.Module):
    """Nearest 2x upsampling, 3x3 conv, ReLU.

    Without autograd (inference) the same result comes from the low resolution: each of the 4 output
    phases sees a 2x2 input window whose taps are sums of the 3x3 kernel's, so one 2x2 conv with 4x the
    output channels does 4/9 of the multiply-adds (:func:`upsample2x_conv3x3`).
    """

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.subpixel = True  # False: always the plain upsample-then-conv (the benchmark's old path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() or not self.subpixel or self.conv.kernel_size != (3, 3):
            return F.relu(self.conv(F.interpolate(x, scale_factor=2, mode="nearest")))
        return F.relu(upsample2x_conv3x3(x, self.conv.weight, self.conv.bias))


def upsample2x_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv2d(interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)`` computed at the
    input resolution (sub-pixel form): equal up to float rounding, 4/9 of the work."""
    b, _, h, w = x.shape
    o = weight.shape[0]

    def fold(k: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        t0, t1, t2 = k.narrow(dim, 0, 1), k.narrow(dim, 1, 1), k.narrow(dim, 2, 1)
        # even output index: input (i-1, i) gets taps (0, 1+2); odd: input (i, i+1) gets (0+1, 2)
        return torch.cat([t0, t1 + t2], dim), torch.cat([t0 + t1, t2], dim)

    rows = fold(weight, 2)
    kernels = [k for r in rows for k in fold(r, 3)]  # phases (0,0), (0,1), (1,0), (1,1)
    y = F.conv2d(x, torch.cat(kernels, 0), None, padding=1)  # (B, 4*O, H+1, W+1)
    out = torch.empty((b, o, 2 * h, 2 * w), dtype=y.dtype, device=y.device, memory_format=_layout(x))
    for p, (a, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        out[:, :, a::2, c::2] = y[:, p * o : (p + 1) * o, a : a + h, c : c + w]
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


class NarrowConv2d(nn.Conv2d):
    """A ``Conv2d`` (same parameters) for few output channels and a wide kernel, e.g. the 128 -> 3, 7x7 output
    conv at full resolution, where oneDNN's direct convolution runs at a fraction of its speed.

    Without autograd on a CPU it computes the conv as one GEMM of every kernel tap (``C_out * k * k`` rows)
    with the input pixels, then adds the tap planes at their offsets: the same sums in another order (~1e-6),
    twice as fast at 468x360.
    """

    fast = True  # False: always the plain conv (the benchmark's old path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0]
        plain = (
            torch.is_grad_enabled()
            or not self.fast
            or x.device.type != "cpu"
            or self.kernel_size != (k, k)
            or self.stride != (1, 1)
            or self.dilation != (1, 1)
            or self.groups != 1
            or self.padding != (k // 2, k // 2)
        )
        return super().forward(x) if plain else narrow_conv2d(x, self.weight, self.bias)


def narrow_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``conv2d(x, weight, bias, padding=k // 2)`` for a square odd kernel as a tap GEMM plus shifted adds."""
    n, c, h, w = x.shape
    co, k, p = weight.shape[0], weight.shape[-1], weight.shape[-1] // 2
    rows = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view for channels-last input
    taps = weight.permute(0, 2, 3, 1).reshape(co * k * k, c)
    out = torch.zeros((n, co, h, w), dtype=torch.result_type(x, weight), device=x.device)
    if bias is not None:
        out += bias.view(1, co, 1, 1)
    for i in range(n):
        y = torch.mm(taps, rows[i].T).view(co, k, k, h, w)  # every tap's plane, contiguous
        for dy in range(k):
            y0, y1 = max(0, p - dy), min(h, h + p - dy)
            for dx in range(k):
                x0, x1 = max(0, p - dx), min(w, w + p - dx)
                out[i, :, y0:y1, x0:x1] += y[:, dy, dx, y0 + dy - p : y1 + dy - p, x0 + dx - p : x1 + dx - p]
    return out.contiguous(memory_format=_layout(x))


def _layout(x: torch.Tensor) -> torch.memory_format:
    return (
        torch.channels_last
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        else (torch.contiguous_format)
    )


class ResBlock2d(nn.Module):
    """conv -> ReLU -> conv, plus the input (through a 1x1 ``channel_conv`` when widths differ)."""

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.conv2 = nn.Conv2d(cout, cout, k, padding=k // 2)
        self.channel_conv = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return out + (self.channel_conv(x) if self.channel_conv is not None else x)


class SameBlock1d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class DownBlock1d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, stride=2, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class ResBlock1d(nn.Module):
    """Like :class:`ResBlock2d`; ``norm1``/``norm2`` are constructed but never used (checkpoint stubs)."""

    def __init__(self, cin: int, cout: int, k: int = 3):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, k, padding=k // 2)
        self.conv2 = nn.Conv1d(cout, cout, k, padding=k // 2)
        self.norm1 = nn.BatchNorm1d(cin)
        self.norm2 = nn.BatchNorm1d(cout)
        self.channel_conv = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return out + (self.channel_conv(x) if self.channel_conv is not None else x)


# ---------------------------------------------------------------------------------- cross-attention
class FlattenAndLinear(nn.Module):
    """Conv1d(128->64,k3) -> ReLU -> MaxPool1d(2) -> flatten -> Linear -> ReLU."""

    def __init__(self, tokens: int = 128, dim: int = 256, out: int = 256):
        super().__init__()
        self.conv1 = nn.Conv1d(tokens, 64, 3, padding=1)
        self.fc = nn.Linear(64 * (dim // 2), out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool1d(F.relu(self.conv1(x)), 2)
        return F.relu(self.fc(x.flatten(1)))


class CrossAttention(nn.Module):
    """Audio tokens (128 channels x 2) attend to image tokens (128 channels x 8x6); gives ``trans_para``."""

    def __init__(self, channels: int = 128, audio_len: int = 2, dim: int = 256, out: int = 256):
        super().__init__()
        h, w = TOKEN_HW
        self.positional_encoding_video = nn.Parameter(torch.randn(channels, h, w))
        self.positional_encoding_audio = nn.Parameter(torch.randn(channels, audio_len))
        self.query_proj = nn.Linear(audio_len, dim)
        self.key_proj = nn.Linear(h * w, dim)
        self.value_proj = nn.Linear(h * w, dim)
        self.final_linear = nn.Linear(dim, dim)
        self.output_reshape = FlattenAndLinear(channels, dim, out)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, img_para: torch.Tensor, audio_para: torch.Tensor) -> torch.Tensor:
        v = (img_para + self.positional_encoding_video).flatten(2)  # (B,128,48)
        a = audio_para + self.positional_encoding_audio  # (B,128,2)
        q, k, val = self.query_proj(a), self.key_proj(v), self.value_proj(v)  # (B,128,256) each
        att = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * self.scale, dim=-1)
        return self.output_reshape(self.final_linear(torch.bmm(att, val)))


# ------------------------------------------------------------------------------ local affine warping
def standard_grid(size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Control grid ``(1,size,size,2)`` of pixel-centre (x, y) in (-1, 1); x varies along the last axis."""
    t = torch.linspace(-1 + 1 / size, 1 - 1 / size, size, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([xx, yy], dim=-1).unsqueeze(0)


def law_grid_layout(grid: torch.Tensor, size: tuple[int, int], antialias: bool = True) -> torch.Tensor:
    """The original's grid reshaping: ``(B,C,G,G,2)`` -> ``(B,C,H,W,2)`` through its scrambling view.

    ``transpose(-1,-2).permute(0,1,4,2,3)`` lays memory out as (C, G_w, G_h, 2); the ``view`` reads it as
    (2C, G_h, G_w); after a bilinear resize to (H, W) it is viewed as (C, 2, H, W) and moved to last.
    """
    b, c, gh, gw, _ = grid.shape
    g = grid.transpose(-1, -2).permute(0, 1, 4, 2, 3).contiguous().view(b, 2 * c, gh, gw)
    h, w = size
    if (gh, gw) != (h, w):
        # torchvision's tensor Resize (antialias=True since 0.17) always takes the antialiased kernel, which
        # also differs (float32 weights) from plain bilinear when *up*sampling: 60 -> 117x90 or 104x80
        if g.dtype == torch.bfloat16 and g.device.type == "cpu":  # no bf16 antialias kernel on CPU
            g = F.interpolate(g.float(), size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
            g = g.to(torch.bfloat16)
        else:
            g = F.interpolate(g, size=(h, w), mode="bilinear", align_corners=False, antialias=antialias)
    return g.view(b, c, 2, h, w).permute(0, 1, 3, 4, 2)


class LocalAffineWarp(nn.Module):
    """Per-channel local similarity warps around ``num_kpoints`` learned keypoints, softmax-blended.

    From ``para`` (B,256): keypoints (tanh), similarity parameters (tanh: scale, angle, tx, ty) and radii
    (sigmoid), each per keypoint and channel. At each control-grid point g, keypoint n moves g to
    ``scale * R(theta) (g - kp) + t + kp`` with influence ``w = exp(-|g - kp| / r)`` fading the transform
    to the identity; the keypoints' results are blended with ``softmax_n(w)``.
    """

    def __init__(self, channels: int = 256, num_kpoints: int = 5, para_ch: int = 256, grid_size: int = 60):
        super().__init__()
        self.channels, self.num_kpoints, self.grid_size = channels, num_kpoints, grid_size
        nc = num_kpoints * channels
        self.commn_linear = nn.Sequential(nn.Linear(para_ch, para_ch), nn.ReLU())
        self.kpoints_normalized_layer = nn.Sequential(nn.Linear(para_ch, 2 * nc), nn.Tanh())
        self.similarity_params_layer = nn.Sequential(nn.Linear(para_ch, 4 * nc), nn.Tanh())
        self.radius_layer = nn.Sequential(nn.Linear(para_ch, nc), nn.Sigmoid())
        self.antialias = True  # torchvision >= 0.17 Resize semantics (antialiased kernel, up- and downsampling)
        self.sample_3d = False  # True: the original's trilinear grid_sample over (C,H,W)

    def control_grid(self, para: torch.Tensor) -> torch.Tensor:
        """The blended control grid ``(B,C,G,G,2)`` in (x, y) order.

        The arithmetic of :meth:`control_grid_reference`, rearranged for speed (2.5-3.5x on a CPU): x and y
        offsets as broadcast views instead of a ``(..., 2)`` tensor, in-place and fused (``addcmul``)
        element-wise passes over the 5x256x60x60 values per frame. Agrees with it to ~3e-7. With autograd
        on (training) the plain formula runs: in-place passes would overwrite what backward needs.
        """
        if torch.is_grad_enabled():
            return self.control_grid_reference(para)
        b, n, c, gs = para.shape[0], self.num_kpoints, self.channels, self.grid_size
        h = self.commn_linear(para)
        kp = self.kpoints_normalized_layer(h).view(b, n, c, 1, 1, 2)
        sp = self.similarity_params_layer(h).view(b, n, c, 1, 1, 4)
        r = self.radius_layer(h).view(b, n, c, 1, 1)
        t = torch.linspace(-1 + 1 / gs, 1 - 1 / gs, gs, device=para.device, dtype=para.dtype)
        kx, ky = kp[..., 0], kp[..., 1]
        ox = (t.view(1, 1, 1, 1, gs) - kx).expand(b, n, c, gs, gs)  # x varies along the last axis
        oy = (t.view(1, 1, 1, gs, 1) - ky).expand(b, n, c, gs, gs)
        w = torch.hypot(ox, oy).neg_().div_(r).exp_()  # influence exp(-|g - kp| / r)
        scale = (sp[..., 0] + 1) * w
        scale += 1 - w
        theta = (math.pi * sp[..., 1]) * w
        cos, sin = torch.cos(theta), theta.sin_()
        wx = (ox * cos).addcmul_(oy, sin).mul_(scale).addcmul_(sp[..., 2], w).add_(kx)
        wy = (oy * cos).sub_(ox * sin).mul_(scale).addcmul_(sp[..., 3], w).add_(ky)
        a = torch.softmax(w, dim=1)
        return torch.stack([wx.mul_(a).sum(1), wy.mul_(a).sum(1)], dim=-1)

    def control_grid_reference(self, para: torch.Tensor) -> torch.Tensor:
        """:meth:`control_grid` written plainly on whole ``(B,N,C,G,G)`` tensors (the reference for tests
        and the baseline of ``benchmarks/bench_lawdnet_generator.py``)."""
        b, n, c = para.shape[0], self.num_kpoints, self.channels
        h = self.commn_linear(para)
        kp = self.kpoints_normalized_layer(h).view(b, n, c, 1, 1, 2)
        sp = self.similarity_params_layer(h).view(b, n, c, 1, 1, 4)
        r = self.radius_layer(h).view(b, n, c, 1, 1)
        g = standard_grid(self.grid_size, para.device, para.dtype).view(1, 1, 1, self.grid_size, self.grid_size, 2)
        off = g - kp  # (B,N,C,G,G,2)
        w = torch.exp(-torch.linalg.vector_norm(off, dim=-1) / r)  # (B,N,C,G,G)
        scale = (sp[..., 0] + 1) * w + (1 - w)
        theta = math.pi * sp[..., 1] * w
        cos, sin = torch.cos(theta), torch.sin(theta)
        ox, oy = off[..., 0], off[..., 1]
        wx = scale * (ox * cos + oy * sin) + sp[..., 2] * w + kp[..., 0]
        wy = scale * (-ox * sin + oy * cos) + sp[..., 3] * w + kp[..., 1]
        a = torch.softmax(w, dim=1)
        return torch.stack([(a * wx).sum(1), (a * wy).sum(1)], dim=-1)

    def forward(self, feat: torch.Tensor, para: torch.Tensor) -> torch.Tensor:
        b, c, h, w = feat.shape
        grid = law_grid_layout(self.control_grid(para), (h, w), self.antialias)  # (B,C,H,W,2)
        if self.sample_3d:
            z = torch.linspace(-1 + 1 / c, 1 - 1 / c, c, device=feat.device, dtype=grid.dtype)
            z = z.view(1, c, 1, 1, 1).expand(b, c, h, w, 1)
            out = F.grid_sample(
                feat.unsqueeze(1), torch.cat([grid, z], -1), mode="bilinear", padding_mode="zeros", align_corners=False
            )
            return out.squeeze(1)
        out = F.grid_sample(
            feat.reshape(b * c, 1, h, w),
            grid.reshape(b * c, h, w, 2),
            mode="bilinear",
            padding_mode="zeros",
            align_corners=False,
        )
        return out.view(b, c, h, w)


# ------------------------------------------------------------------------------------------ generator
class LawDNet(nn.Module):
    """The LawDNet generator (``LawDNet(3, 15, 29, 2, 5, 60)`` in the original). 21,082,691 parameters.

    ``coarse_grid_size`` (the LAW control grid, 60 in the release) changes no parameter shape.
    ``compute_dead_layer`` runs the inert first LAW branch too (for timing parity; output unchanged).
    ``autocast_fp16`` reproduces the original's fp16 autocast on CUDA (no effect on CPU).
    """

    def __init__(
        self,
        source_channel: int = 3,
        ref_channel: int = 15,
        audio_channel: int = 29,
        warp_layer_num: int = 2,
        num_kpoints: int = 5,
        coarse_grid_size: int = 60,
        compute_dead_layer: bool = False,
        autocast_fp16: bool = False,
    ):
        super().__init__()
        self.coarse_grid_size = coarse_grid_size
        self.compute_dead_layer = compute_dead_layer
        self.autocast_fp16 = autocast_fp16
        self.source_in_conv = nn.Sequential(
            SameBlock2d(source_channel, 64, 7), DownBlock2d(64, 128), DownBlock2d(128, 256)
        )
        self.ref_in_conv = nn.Sequential(SameBlock2d(ref_channel, 64, 7), DownBlock2d(64, 128), DownBlock2d(128, 256))
        self.trans_conv = nn.Sequential(
            SameBlock2d(512, 128, 3),
            SameBlock2d(128, 128, 11),
            SameBlock2d(128, 128, 11),
            DownBlock2d(128, 128),
            SameBlock2d(128, 128, 7),
            SameBlock2d(128, 128, 7),
            DownBlock2d(128, 128),
            SameBlock2d(128, 128, 3),
            DownBlock2d(128, 128),
            SameBlock2d(128, 128, 3),
            DownBlock2d(128, 128),
        )
        self.audio_encoder = nn.Sequential(
            SameBlock1d(audio_channel, 128, 5),
            ResBlock1d(128, 128, 3),
            DownBlock1d(128, 128),
            ResBlock1d(128, 128, 3),
            DownBlock1d(128, 128),
            SameBlock1d(128, 128, 3),
        )
        self.appearance_conv_list = nn.ModuleList(
            nn.Sequential(ResBlock2d(256, 256), ResBlock2d(256, 256)) for _ in range(warp_layer_num)
        )
        self.lawLayer_list = nn.ModuleList(
            LocalAffineWarp(256, num_kpoints, 256, coarse_grid_size) for _ in range(warp_layer_num)
        )
        self.out_conv = nn.Sequential(
            SameBlock2d(512, 128, 3),
            UpBlock2d(128, 128),
            ResBlock2d(128, 128),
            UpBlock2d(128, 128),
            NarrowConv2d(128, 3, 7, padding=3),
            nn.Sigmoid(),
        )
        self.cross_attention = CrossAttention(128, 2, 256, 256)

    def set_grid_size(self, size: int) -> None:
        """Change the LAW control grid (no parameter depends on it)."""
        self.coarse_grid_size = size
        for law in self.lawLayer_list:
            law.grid_size = size

    def forward(
        self,
        source_img: torch.Tensor,
        ref_img: torch.Tensor | None,
        audio_feature: torch.Tensor,
        refs: ReferenceFeatures | None = None,
    ) -> torch.Tensor:
        """``refs`` (from :meth:`encode_references`) replaces ``ref_img``: the reference branch does not
        depend on the source or the audio, so a dubbing run computes it once for all its frames."""
        if self.autocast_fp16 and source_img.is_cuda:
            with torch.autocast("cuda", dtype=torch.float16):
                return self._forward(source_img, ref_img, audio_feature, refs)
        return self._forward(source_img, ref_img, audio_feature, refs)

    def _branches(self) -> range:
        # the original loops over all branches, each reading ref_in_feature and overwriting the result
        first = 0 if self.compute_dead_layer else len(self.lawLayer_list) - 1
        return range(first, len(self.lawLayer_list))

    def encode_references(self, ref_img: torch.Tensor) -> ReferenceFeatures:
        """The source- and audio-independent part: ``ref_in_conv`` and the LAW branches' appearance convs."""
        ref_in = self.ref_in_conv(ref_img)
        return ReferenceFeatures(ref_in, {i: self.appearance_conv_list[i](ref_in) for i in self._branches()})

    def _forward(
        self,
        source_img: torch.Tensor,
        ref_img: torch.Tensor | None,
        audio_feature: torch.Tensor,
        refs: ReferenceFeatures | None = None,
    ) -> torch.Tensor:
        if refs is None:
            if ref_img is None:
                raise ValueError("LawDNet needs ref_img or precomputed refs")
            refs = self.encode_references(ref_img)
        b = source_img.shape[0]
        source_in_feature = self.source_in_conv(source_img)
        ref_in_feature = refs.batch(refs.ref_in, b)
        img_para = self.trans_conv(torch.cat([source_in_feature, ref_in_feature], 1))
        if tuple(img_para.shape[-2:]) != TOKEN_HW:
            img_para = F.interpolate(img_para, size=TOKEN_HW, mode="bilinear", align_corners=True)
        audio_para = self.audio_encoder(audio_feature)
        trans_para = self.cross_attention(img_para, audio_para)
        warped = ref_in_feature
        for i in self._branches():
            warped = self.lawLayer_list[i](refs.batch(refs.appearance[i], b), trans_para)
        return self.out_conv(torch.cat([source_in_feature, warped], 1))


@dataclass
class ReferenceFeatures:
    """What :meth:`LawDNet.encode_references` computes from the 5 reference crops (batch 1 or B)."""

    ref_in: torch.Tensor  # (1|B, 256, H/4, W/4)
    appearance: dict[int, torch.Tensor]  # LAW branch -> its appearance feature, same shape

    @staticmethod
    def batch(t: torch.Tensor, b: int) -> torch.Tensor:
        return t if t.shape[0] == b else t.expand(b, *t.shape[1:])

    def to(self, memory_format: torch.memory_format) -> ReferenceFeatures:
        return ReferenceFeatures(
            self.ref_in.contiguous(memory_format=memory_format),
            {i: a.contiguous(memory_format=memory_format) for i, a in self.appearance.items()},
        )
