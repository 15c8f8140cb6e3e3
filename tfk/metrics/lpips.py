"""LPIPS (Zhang et al. 2018, v0.1) with AlexNet or VGG16 features, checkpoint-compatible.

Reference definition (``lpips`` package 0.1.x, ``LPIPS(net=..., version='0.1')``):

1. inputs are RGB in [-1, 1]; the ScalingLayer maps x -> (x - shift) / scale with
   shift = (-0.030, -0.088, -0.188), scale = (0.458, 0.448, 0.450);
2. five backbone activations (AlexNet: after ReLU of conv1..conv5, torchvision ``features[0:2]``,
   ``[2:5]``, ``[5:8]``, ``[8:10]``, ``[10:12]``; VGG16: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3,
   ``features[0:4]``, ``[4:9]``, ``[9:16]``, ``[16:23]``, ``[23:30]``);
3. each activation is unit-normalised over channels (x / (‖x‖₂ + 1e-10)); the squared difference goes
   through a learned non-negative 1×1 conv (``linK.model.1.weight`` [1,C,1,1], ``model.0`` is a Dropout),
   is averaged spatially, and the five layer scores are summed.

Weights: backbone = torchvision ImageNet file (``features.*`` keys; ``classifier.*`` ignored), heads =
the lpips repo's ``weights/v0.1/{alex,vgg}.pth``. Both come from the weights store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from tfk.metrics._weights import check_contract, load_state_dict, resolve_weights

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)

#: backbone name -> (channels of the 5 taps, tap end indices into ``features``, artifact ids)
BACKBONES: dict[str, dict[str, Any]] = {
    "alex": {
        "chns": (64, 192, 384, 256, 256),
        "taps": (2, 5, 8, 10, 12),
        "lin_artifact": "shared/lpips_alex_lin",
        "backbone_artifact": "shared/torchvision_alexnet",
    },
    "vgg": {
        "chns": (64, 128, 256, 512, 512),
        "taps": (4, 9, 16, 23, 30),
        "lin_artifact": "shared/lpips_vgg_lin",
        "backbone_artifact": "shared/torchvision_vgg16",
    },
}


def _alexnet_features() -> nn.Sequential:
    """torchvision ``alexnet().features`` layout (indices = state-dict keys ``features.N``)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
    )


def _vgg16_features() -> nn.Sequential:
    """torchvision ``vgg16().features`` layout (configuration D, no batch norm)."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers: list[nn.Module] = []
    c_in = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            c_in = int(v)
    return nn.Sequential(*layers)


def backbone_feature_shapes(net: str = "alex") -> dict[str, tuple[int, ...]]:
    """Expected ``features.*`` keys and shapes of the torchvision backbone file."""
    feats = _alexnet_features() if net == "alex" else _vgg16_features()
    return {f"features.{k}": tuple(v.shape) for k, v in feats.state_dict().items()}


def lin_shapes(net: str = "alex") -> dict[str, tuple[int, ...]]:
    """Expected keys and shapes of the lpips linear-head file."""
    return {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(BACKBONES[net]["chns"])}


class _NetLin(nn.Module):
    def __init__(self, chn: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(chn, 1, 1, stride=1, padding=0, bias=False))


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """LPIPS v0.1. ``forward(x, y)`` takes [N,3,H,W] in [-1,1] and returns [N] distances."""

    def __init__(self, net: str = "alex"):
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"unknown LPIPS backbone {net!r} (alex, vgg)")
        self.net_name = net
        self.features = _alexnet_features() if net == "alex" else _vgg16_features()
        self.taps = BACKBONES[net]["taps"]
        for i, c in enumerate(BACKBONES[net]["chns"]):
            self.add_module(f"lin{i}", _NetLin(c))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()
        self.requires_grad_(False)

    def lins(self) -> list[nn.Module]:
        return [getattr(self, f"lin{i}") for i in range(len(self.taps))]

    def taps_of(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        outs, start = [], 0
        for end in self.taps:
            for layer in self.features[start:end]:
                x = layer(x)
            outs.append(x)
            start = end
        return outs

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx, fy = self.taps_of(x), self.taps_of(y)
        total = 0
        for lin, a, b in zip(self.lins(), fx, fy, strict=True):
            d = (normalize_channels(a) - normalize_channels(b)) ** 2
            total = total + lin.model(d).mean(dim=(2, 3))
        return total.view(-1)

    def load_weights(self, backbone_sd: dict[str, Any], lin_sd: dict[str, Any]) -> None:
        """Load a torchvision backbone state dict and an lpips head state dict (strict on what is used)."""
        check_contract(backbone_sd, backbone_feature_shapes(self.net_name), f"LPIPS-{self.net_name} backbone")
        check_contract(lin_sd, lin_shapes(self.net_name), f"LPIPS-{self.net_name} heads")
        feats = {k[len("features.") :]: v for k, v in backbone_sd.items() if k.startswith("features.")}
        self.features.load_state_dict(feats, strict=True)
        for i, lin in enumerate(self.lins()):
            lin.model[1].weight.data.copy_(lin_sd[f"lin{i}.model.1.weight"])


def load_lpips(
    net: str = "alex",
    device: str = "cpu",
    backbone_path: str | Path | None = None,
    lin_path: str | Path | None = None,
    download: bool = True,
) -> LPIPS:
    """LPIPS with published weights from the store (raises ``MissingWeights`` when absent)."""
    spec = BACKBONES.get(net)
    if spec is None:
        raise ValueError(f"unknown LPIPS backbone {net!r} (alex, vgg)")
    what = f"LPIPS-{net}"
    lin_file = resolve_weights(spec["lin_artifact"], what, lin_path, download)
    bb_file = resolve_weights(spec["backbone_artifact"], what, backbone_path, download)
    model = LPIPS(net)
    model.load_weights(load_state_dict(bb_file, what), load_state_dict(lin_file, what))
    return model.to(device)


def to_lpips_input(frames, device: str = "cpu") -> torch.Tensor:
    """uint8 [N,H,W,3] (or [H,W,3]) RGB -> float [N,3,H,W] in [-1,1]."""
    import numpy as np

    a = np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    t = torch.from_numpy(np.ascontiguousarray(a)).to(device).permute(0, 3, 1, 2).float()
    return t / 127.5 - 1.0


@torch.no_grad()
def lpips_batch(model: LPIPS, a, b, device: str = "cpu") -> list[float]:
    """Per-pair LPIPS of two uint8 RGB batches [N,H,W,3]."""
    return model(to_lpips_input(a, device), to_lpips_input(b, device)).cpu().tolist()


def validate_lin_weights(path: str | Path) -> None:
    """Artifact validator for the lpips head files (alex or vgg layout)."""
    sd = load_state_dict(path, "LPIPS heads")
    net = "vgg" if tuple(sd.get("lin1.model.1.weight", torch.empty(0)).shape) == (1, 128, 1, 1) else "alex"
    check_contract(sd, lin_shapes(net), "LPIPS heads", path)


def validate_alexnet_weights(path: str | Path) -> None:
    check_contract(load_state_dict(path, "AlexNet"), backbone_feature_shapes("alex"), "AlexNet", path)


def validate_vgg16_weights(path: str | Path) -> None:
    check_contract(load_state_dict(path, "VGG16"), backbone_feature_shapes("vgg"), "VGG16", path)
