"""The memory network (``Memory_Network``): a frozen ResNet-18 query encoder and a key/value identity memory.

Checkpoint layout (``*_net_mem.pth``): ``{"mem_model": state_dict, "mem_key", "mem_value", "mem_age",
"mem_index"}``. The state dict repeats the ResNet-18 under four prefixes (``ResNet18.model``, ``ResNet18.body``,
``body.0.model``, ``body.0.body``; 488 keys) because the original registers the same modules several times;
the port registers them the same way, so the published file loads strictly.
Keys are L2-normalised query vectors (512); values are 512-d ArcFace identity features.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tfk_phadtf.models.resnet import ResNet18

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Backbone(nn.Module):
    """``ResNet18`` wrapper of the original: ``model`` (with fc) and ``body`` (its children without fc)."""

    def __init__(self, width: int = 1):
        super().__init__()
        self.model = ResNet18(width)
        self.body = nn.Sequential(*list(self.model.children())[:-1])
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class MemoryNetwork(nn.Module):
    def __init__(
        self,
        mem_size: int = 30000,
        value_dim: int = 512,
        key_dim: int = 512,
        top_k: int = 256,
        alpha: float = 0.3,
        age_noise: float = 4.0,
        width: int = 1,
    ):
        super().__init__()
        self.ResNet18 = _Backbone(width).eval()
        self.Linear = nn.Linear(self.ResNet18.model.out_dim, key_dim)
        self.body = nn.Sequential(self.ResNet18, self.Linear)
        self.mem_size, self.top_k, self.alpha, self.age_noise = mem_size, min(top_k, mem_size), alpha, age_noise
        self.value = F.normalize(torch.rand(mem_size, value_dim) * 0.01, p=1, dim=1)
        self.key = F.normalize(torch.rand(mem_size, key_dim) * 0.02 - 0.01, dim=1)
        self.age = torch.zeros(mem_size)
        self.top_index = torch.full((mem_size,), -1.0)

    def train(self, mode: bool = True) -> MemoryNetwork:
        super().train(mode)
        self.ResNet18.eval()  # frozen, always in eval mode (as the original)
        return self

    def _apply(self, fn, recurse=True):
        super()._apply(fn, recurse)
        for name in ("value", "key", "age", "top_index"):
            setattr(self, name, fn(getattr(self, name)))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet-normalised (B, 3, 256, 256) -> L2-normalised query (B, key_dim)."""
        return F.normalize(self.body(x), dim=1)

    def unsupervised_loss(self, query: torch.Tensor, feat: torch.Tensor, thres: float) -> torch.Tensor:
        """Hinge between the best key whose value matches ``feat`` (dot > thres) and the best one that does not."""
        score = query @ self.key.t()
        top_s, top_i = torch.topk(score, self.top_k, 1)
        sim = torch.einsum("bkd,bd->bk", self.value[top_i], feat)
        mask = (sim > thres).float()
        pos = torch.topk(top_s * mask, 1, 1)[0]
        neg = torch.topk(top_s * (1 - mask), 1, 1)[0]
        return torch.clamp(neg - pos + self.alpha, min=0).mean()

    @torch.no_grad()
    def update(self, query: torch.Tensor, feat: torch.Tensor, thres: float, index: torch.Tensor) -> int:
        """Merge into the top-1 key where its value matches, else overwrite the oldest slots; returns #replaced."""
        top1 = torch.topk(query @ self.key.t(), 1, 1)[1][:, 0]
        match = (self.value[top1] * feat).sum(1) > thres
        self.age += 1.0
        hit = top1[match]
        self.key[hit] = F.normalize(self.key[hit] + query[match], dim=1)
        self.age[hit] = 0.0
        miss = ~match
        n = int(miss.sum())
        if n:
            noise = (torch.rand(self.mem_size, device=self.age.device) * 2 - 1) * self.age_noise
            old = torch.topk(self.age + noise, n, 0)[1]
            self.key[old] = query[miss]
            self.value[old] = feat[miss]
            self.top_index[old] = index[miss].to(self.top_index.dtype)
            self.age[old] = 0.0
        return n

    @torch.no_grad()
    def top1_value(self, query: torch.Tensor) -> torch.Tensor:
        """Identity feature of the nearest key (test time)."""
        return self.value[torch.topk(query @ self.key.t(), 1, 1)[1][:, 0]]

    # ------------------------------------------------------------------ checkpoint
    def checkpoint(self) -> dict:
        return {
            "mem_model": self.state_dict(),
            "mem_key": self.key.cpu(),
            "mem_value": self.value.cpu(),
            "mem_age": self.age.cpu(),
            "mem_index": self.top_index.cpu(),
        }

    def load_checkpoint(self, ckpt: dict) -> None:
        self.load_state_dict(ckpt["mem_model"], strict=True)
        dev = self.key.device
        for attr, key in (("key", "mem_key"), ("value", "mem_value"), ("age", "mem_age"), ("top_index", "mem_index")):
            t = torch.as_tensor(ckpt[key]).float().to(dev)
            if t.shape[0] != self.mem_size:
                raise ValueError(f"{key} has {t.shape[0]} slots, the network {self.mem_size}")
            setattr(self, attr, t)


def imagenet_normalise(x01: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> ImageNet-normalised."""
    mean = torch.tensor(IMAGENET_MEAN, device=x01.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x01.device).view(1, 3, 1, 1)
    return (x01 - mean) / std
