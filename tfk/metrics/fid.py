"""FID (Heusel et al. 2017) with the pytorch-fid InceptionV3 (TF ``inception-2015-12-05`` port).

Reference definition (pytorch-fid 0.3): RGB images in [0,1], bilinearly resized to 299×299
(``align_corners=False``), scaled to [-1,1], 2048-d pool3 features (final average pool); the Fréchet
distance of the two Gaussians ``d² = ‖μ1-μ2‖² + Tr(Σ1 + Σ2 - 2·sqrtm(Σ1·Σ2))`` with ``np.cov`` (N-1)
covariances. Numerical fixes as in pytorch-fid: when ``sqrtm`` is not finite, 1e-6 is added to both
diagonals; a small imaginary part (diagonal |imag| ≤ 1e-3) is dropped, a larger one is an error.

The network follows torchvision's ``Inception3`` key layout (``Conv2d_1a_3x3.conv.weight``, ``.bn.*``,
``Mixed_5b.branch1x1...``, ``Mixed_7c...``, ``fc`` with 1008 classes) with the FID patches: average pools in
the A/C/E1 blocks exclude padding, and the last E block (``Mixed_7c``) uses a max pool.
Few frames give a rank-deficient covariance: FID over one short clip is only indicative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tfk.metrics._weights import check_contract, load_state_dict, resolve_weights

ARTIFACT_ID = "shared/pt_inception_fid"


class BasicConv2d(nn.Module):
    def __init__(self, c_in: int, c_out: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, bias=False, **kw)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _avg_no_pad(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(c_in, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(c_in, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_no_pad(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(c_in, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(c_in, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, c_in: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(c_in, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(c_in, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        bp = self.branch_pool(_avg_no_pad(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(c_in, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(c_in, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(c_in, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(c_in, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(c_in, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_no_pad(x)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's InceptionV3; ``forward`` returns the [N,2048] pool3 features."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # unused for FID, present in the checkpoint
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N,3,H,W] RGB in [0,1] -> [N,2048]."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def inception_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``pt_inception-2015-12-05-6726825d.pth`` (built on the meta device)."""
    with torch.device("meta"):
        net = FIDInceptionV3()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def load_inception(device: str = "cpu", path: str | Path | None = None, download: bool = True) -> FIDInceptionV3:
    file = resolve_weights(ARTIFACT_ID, "FID", path, download)
    sd = load_state_dict(file, "FID InceptionV3")
    check_contract(sd, _required_shapes(), "FID InceptionV3", file)
    net = FIDInceptionV3()
    net.load_state_dict(sd, strict=False)  # older checkpoints lack num_batches_tracked
    return net.to(device)


def _required_shapes() -> dict[str, tuple[int, ...]]:
    return {k: v for k, v in inception_shapes().items() if not k.endswith("num_batches_tracked")}


def validate_inception_weights(path: str | Path) -> None:
    check_contract(load_state_dict(path, "FID InceptionV3"), _required_shapes(), "FID InceptionV3", path)


class FeatureStats:
    """Streaming mean/covariance of feature vectors (float64 sums; memory independent of N)."""

    def __init__(self, dim: int | None = None):
        self.n = 0
        self.s = np.zeros(dim, dtype=np.float64) if dim else None
        self.ss = np.zeros((dim, dim), dtype=np.float64) if dim else None

    def update(self, feats) -> None:
        f = np.asarray(feats, dtype=np.float64)
        f = f.reshape(len(f), -1) if f.ndim > 1 else f.reshape(1, -1)
        if self.s is None:  # sized by the first batch
            self.s = np.zeros(f.shape[1], dtype=np.float64)
            self.ss = np.zeros((f.shape[1], f.shape[1]), dtype=np.float64)
        if f.shape[1] != self.s.shape[0]:
            raise ValueError(f"FID: feature size {f.shape[1]} differs from {self.s.shape[0]}")
        self.n += len(f)
        self.s += f.sum(0)
        self.ss += f.T @ f

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2 or self.s is None:
            raise ValueError("FID needs at least 2 feature vectors per set")
        mu = self.s / self.n
        cov = (self.ss - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, cov


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (pytorch-fid formula and fixes)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("FID: mean vectors / covariances have different shapes")
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FID: imaginary component {np.max(np.abs(covmean.imag))} in sqrtm")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(f1, f2) -> float:
    """FID of two feature matrices [N,D] (covariance with N-1, like ``np.cov(rowvar=False)``)."""
    a, b = FeatureStats(np.shape(f1)[1]), FeatureStats(np.shape(f2)[1])
    a.update(f1)
    b.update(f2)
    return frechet_distance(*a.mean_cov(), *b.mean_cov())


@torch.no_grad()
def inception_features(net: FIDInceptionV3, frames, device: str = "cpu") -> np.ndarray:
    """uint8 RGB [N,H,W,3] -> [N,2048] pool3 features."""
    a = np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    x = torch.from_numpy(np.ascontiguousarray(a)).to(device).permute(0, 3, 1, 2).float() / 255.0
    return net(x).cpu().numpy()
