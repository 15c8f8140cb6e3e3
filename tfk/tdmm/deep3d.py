"""Deep3DFaceRecon (PyTorch) coefficient regressor, its 5-point POS alignment, and the coefficient files.

Network (``models/networks.py ReconNetWrapper``): a torchvision-layout ResNet-50 without fc (``backbone.*``), then
seven zero-initialised 1×1-conv heads on the 2048-d pooled feature (``final_layers.0..6``: id 80, exp 64,
tex 80, angle 3, gamma 27, (tx, ty) 2, tz 1) concatenated to 257. Input ``[B,3,224,224]`` RGB in [0,1].
Checkpoint ``epoch_20.pth``: ``{'net_recon': state_dict, 'opt_00', 'sched_00', 'epoch'}``; only ``net_recon`` is used.

Alignment (``util/preprocess.py align_img``): landmarks are y-flipped (``y -> H-1-y``), reduced to 5 points,
fitted to the 5 reference 3D points of ``similarity_Lm3D_all.mat`` by POS (affine camera least squares),
``s = 102 / mean(‖R1‖, ‖R2‖)``; the image is resized by ``s`` (bicubic) and a 224² crop taken at
``left = w/2 − 112 + (t0 − w0/2)·s``, ``up = h/2 − 112 + (h0/2 − t1)·s``; ``trans_params = [w0, h0, s, t0, t1]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tfk.errors import BadInput, InvalidArtifact

COEFF_SLICES = {
    "id": (0, 80),
    "exp": (80, 144),
    "tex": (144, 224),
    "angle": (224, 227),
    "gamma": (227, 254),
    "trans": (254, 257),
}
HEAD_DIMS = (80, 64, 80, 3, 27, 2, 1)
N_PARAMS = 24_034_625
TARGET_SIZE = 224
RESCALE = 102.0


# ----------------------------------------------------------------------------------------------- network
class Bottleneck(nn.Module):
    """torchvision ResNet v1.5 bottleneck (stride on the 3×3 conv)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNet50Backbone(nn.Module):
    """ResNet-50 feature extractor with torchvision's parameter names (no ``fc``); returns ``[B,2048,1,1]``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.inplanes = 64
        self.layer1 = self._layer(64, 3)
        self.layer2 = self._layer(128, 4, 2)
        self.layer3 = self._layer(256, 6, 2)
        self.layer4 = self._layer(512, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def _layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class ReconNet(nn.Module):
    """Deep3DFaceRecon's ``ReconNetWrapper``: ``[B,3,224,224]`` in [0,1] -> ``[B,257]`` coefficients."""

    def __init__(self):
        super().__init__()
        self.backbone = ResNet50Backbone()
        self.final_layers = nn.ModuleList(nn.Conv2d(2048, d, 1, bias=True) for d in HEAD_DIMS)
        for layer in self.final_layers:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.backbone(x)
        return torch.cat([layer(feat) for layer in self.final_layers], 1).flatten(1)


def expected_state_shapes() -> dict[str, tuple[int, ...]]:
    """``net_recon`` key -> shape of the published checkpoint layout (BatchNorm buffers included)."""
    return {k: tuple(v.shape) for k, v in ReconNet().state_dict().items()}


def _net_recon(obj) -> dict:
    if isinstance(obj, dict) and "net_recon" in obj:
        obj = obj["net_recon"]
    if not isinstance(obj, dict):
        raise InvalidArtifact("Deep3DFaceRecon checkpoint: expected a dict with 'net_recon'")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def check_state_dict(sd: dict) -> None:
    """Raise :class:`InvalidArtifact` unless ``sd`` matches :func:`expected_state_shapes` key for key."""
    from tfk.statedict import check_state_dict as _check

    _check(sd, expected_state_shapes(), "not a Deep3DFaceRecon epoch_20.pth")


def validate_checkpoint(path: str | os.PathLike[str]) -> None:
    """The ``shared/deep3d_epoch20`` validator."""
    from tfk.statedict import read_checkpoint

    check_state_dict(_net_recon(read_checkpoint(path, "Deep3DFaceRecon checkpoint")))


def load_recon_net(path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu") -> ReconNet:
    """Build the regressor and load ``epoch_20.pth`` (default: the imported ``shared/deep3d_epoch20``)."""
    if path is None:
        import tfk.weights as weights

        path = weights.require("shared/deep3d_epoch20")
    from tfk.statedict import read_checkpoint

    sd = _net_recon(read_checkpoint(path, "Deep3DFaceRecon checkpoint"))
    check_state_dict(sd)
    net = ReconNet()
    net.load_state_dict(sd)
    return net.eval().to(device)


def split_coeff(coeff: torch.Tensor | np.ndarray) -> dict:
    """Split ``[...,257]`` into id/exp/tex/angle/gamma/trans."""
    if coeff.shape[-1] != 257:
        raise BadInput(f"expected 257 coefficients, got {coeff.shape[-1]}")
    return {k: coeff[..., a:b] for k, (a, b) in COEFF_SLICES.items()}


# ----------------------------------------------------------------------------------------------- alignment
def extract_5p(lm68: np.ndarray) -> np.ndarray:
    """68 -> 5 points: L-eye mean(36,39), R-eye mean(42,45), nose 30, mouth corners 48, 54."""
    lm = np.asarray(lm68, dtype=np.float64)
    return np.stack(
        (lm[[36, 39]].mean(0), lm[[42, 45]].mean(0), lm[30], lm[48], lm[54]),
    )


def lm3d_5p(lm3d_68: np.ndarray) -> np.ndarray:
    """The 5 reference 3D points from ``similarity_Lm3D_all.mat`` key ``lm`` [68,3] (same rule as extract_5p)."""
    return extract_5p(lm3d_68)


def pos(xp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """POS: affine camera ``xp [N,2] ≈ [R1;R2]·x [N,3] + t``; returns ``t [2]`` and ``s = mean(‖R1‖, ‖R2‖)``."""
    n = x.shape[0]
    a = np.zeros((2 * n, 8))
    a[0::2, 0:3], a[0::2, 3] = x, 1
    a[1::2, 4:7], a[1::2, 7] = x, 1
    b = np.asarray(xp, dtype=np.float64).reshape(-1)
    k, *_ = np.linalg.lstsq(a, b, rcond=None)
    s = (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2
    return np.array([k[3], k[7]]), float(s)


def align_landmarks(
    lm: np.ndarray, width: int, height: int, lm3d: np.ndarray, target: int = TARGET_SIZE, rescale: float = RESCALE
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The geometric part of ``align_img``: ``lm [68|5,2]`` in image coordinates (y down) of a ``width×height``
    image -> ``(trans_params [5] = [w0, h0, s, t0, t1], lm_crop [K,2] in the crop's y-up frame,
    (w, h, left, up))`` where ``(w, h)`` is the resized image size and ``(left, up)`` the crop origin."""
    h0, w0 = int(height), int(width)
    lm = np.asarray(lm, dtype=np.float64).copy()
    if lm.ndim != 2 or lm.shape[1] != 2 or not np.isfinite(lm).all():
        raise BadInput(f"alignment needs finite [68|5,2] landmarks, got {lm.shape}")
    lm[:, 1] = h0 - 1 - lm[:, 1]
    lm5 = extract_5p(lm) if lm.shape[0] == 68 else lm
    if lm5.shape != (5, 2):
        raise BadInput(f"alignment needs 68 or 5 landmarks, got {lm.shape[0]}")
    t, s = pos(lm5, lm3d)
    if not s > 0:
        raise BadInput("degenerate landmarks: cannot align the face")
    s = rescale / s
    w, h = int(w0 * s), int(h0 * s)
    if w < 1 or h < 1:
        raise BadInput("degenerate landmarks: alignment scale is zero")
    left = int(w / 2 - target / 2 + (t[0] - w0 / 2) * s)
    up = int(h / 2 - target / 2 + (h0 / 2 - t[1]) * s)
    lm_c = np.stack((lm[:, 0] - t[0] + w0 / 2, lm[:, 1] - t[1] + h0 / 2), 1) * s
    lm_c = lm_c - np.array([w / 2 - target / 2, h / 2 - target / 2])
    return np.array([w0, h0, s, t[0], t[1]], dtype=np.float64), lm_c, (w, h, left, up)


def align_image(
    img: np.ndarray, lm: np.ndarray, lm3d: np.ndarray, target: int = TARGET_SIZE, rescale: float = RESCALE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deep3D's ``align_img``: ``img`` RGB HxWx3, ``lm [68|5,2]`` in image coordinates (y down).

    Returns ``(trans_params [5] = [w0, h0, s, t0, t1], crop [224,224,3] uint8, lm_crop [K,2])`` where
    ``lm_crop`` is in the crop's y-up frame (as Deep3D keeps it); outside the image the crop is black.
    """
    import cv2

    h0, w0 = img.shape[:2]
    tp, lm_c, (w, h, left, up) = align_landmarks(lm, w0, h0, lm3d, target, rescale)
    resized = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    crop = np.zeros((target, target, 3), dtype=np.uint8)
    x0, y0 = max(left, 0), max(up, 0)
    x1, y1 = min(left + target, w), min(up + target, h)
    if x1 > x0 and y1 > y0:
        crop[y0 - up : y1 - up, x0 - left : x1 - left] = resized[y0:y1, x0:x1]
    return tp, crop, lm_c


def load_lm3d(path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """The 5 reference 3D points from ``similarity_Lm3D_all.mat`` (default: ``shared/deep3d_similarity_lm3d``)."""
    from scipy.io import loadmat

    if path is None:
        import tfk.weights as weights

        path = weights.require("shared/deep3d_similarity_lm3d")
    m = loadmat(str(path))
    if "lm" not in m or m["lm"].shape != (68, 3):
        raise InvalidArtifact(f"{path}: expected key 'lm' of shape (68, 3)")
    return lm3d_5p(m["lm"])


@torch.no_grad()
def regress(net: ReconNet, crops: np.ndarray, device: str | torch.device = "cpu", batch: int = 16) -> np.ndarray:
    """Run the regressor on aligned crops ``[N,224,224,3]`` uint8 RGB -> ``[N,257]``."""
    out = []
    for s0 in range(0, len(crops), batch):
        x = torch.as_tensor(crops[s0 : s0 + batch], dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255.0
        out.append(net(x).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 257), np.float32)


# ----------------------------------------------------------------------------------------------- coefficient files
def semantics_73(coeff: np.ndarray, trans_params: np.ndarray) -> np.ndarray:
    """PIRender/StyleHEAT 73-d driving semantics: exp 64 | angle 3 | trans 3 | crop (s, t0, t1)."""
    c = np.asarray(coeff)
    tp = np.asarray(trans_params)
    return np.concatenate((c[:, 80:144], c[:, 224:227], c[:, 254:257], tp[:, -3:]), 1)


def write_video_coeffs(
    path: str | os.PathLike[str], coeff: np.ndarray, trans_params: np.ndarray, source: str = "deep3d"
) -> Path:
    """One ``.mat`` per video, as PIRender/StyleHEAT read it: ``coeff [N,257]``, ``transform_params [N,5]``.

    ``source`` (``"deep3d"`` or ``"fit"``) is stored alongside so substitutes are never mistaken for the original.
    """
    from scipy.io import savemat

    from tfk.tdmm.bfm import _atomic_save

    coeff = np.asarray(coeff, dtype=np.float32)
    tp = np.asarray(trans_params, dtype=np.float32)
    if coeff.ndim != 2 or coeff.shape[1] != 257 or tp.shape != (coeff.shape[0], 5):
        raise BadInput(f"coeff must be [N,257] and trans_params [N,5], got {coeff.shape} and {tp.shape}")
    doc = {"coeff": coeff, "transform_params": tp, "source": np.array(source)}
    return _atomic_save(Path(path), lambda tmp: savemat(tmp, doc))


def write_frame_coeffs(
    out_dir: str | os.PathLike[str], coeff: np.ndarray, lm_5p: np.ndarray | None = None, source: str = "deep3d"
) -> list[Path]:
    """PHADTF layout: ``frame{k}.mat`` with ``coeff [1,257]`` and ``lm_5p [5,2]`` (k unpadded)."""
    from scipy.io import savemat

    from tfk.tdmm.bfm import _atomic_save

    coeff = np.asarray(coeff, dtype=np.float32)
    if coeff.ndim != 2 or coeff.shape[1] != 257:
        raise BadInput(f"coeff must be [N,257], got {coeff.shape}")
    lm5 = np.zeros((len(coeff), 5, 2), np.float32) if lm_5p is None else np.asarray(lm_5p, np.float32)
    out = Path(out_dir)
    paths = []
    for k in range(len(coeff)):
        doc = {"coeff": coeff[k : k + 1], "lm_5p": lm5[k], "source": np.array(source)}
        paths.append(_atomic_save(out / f"frame{k}.mat", lambda tmp, d=doc: savemat(tmp, d)))
    return paths


def read_video_coeffs(path: str | os.PathLike[str]) -> dict:
    from scipy.io import loadmat

    m = loadmat(str(path))
    if "coeff" not in m:
        raise BadInput(f"{path}: no 'coeff' variable")
    src = m.get("source")
    return {
        "coeff": m["coeff"],
        "transform_params": m.get("transform_params"),
        "source": str(src[0]) if src is not None and len(src) else "unknown",
    }
