"""Exponential moving average of parameters with torch-ema's state-dict layout and update rule."""

from __future__ import annotations

from typing import Any

import torch


class EMA:
    """torch-ema rule: ``d = min(decay, (1 + n) / (10 + n))``, ``shadow -= (1 - d)(shadow - p)``."""

    def __init__(self, params: list[torch.nn.Parameter], decay: float = 0.95):
        self.params = [p for p in params if p.requires_grad]
        self.decay = decay
        self.num_updates = 0
        self.shadow_params = [p.detach().clone() for p in self.params]
        self.collected_params: list[torch.Tensor] | None = None

    @torch.no_grad()
    def update(self) -> None:
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        for s, p in zip(self.shadow_params, self.params, strict=True):
            s.sub_((1 - d) * (s - p))

    @torch.no_grad()
    def store_and_copy(self) -> None:
        self.collected_params = [p.detach().clone() for p in self.params]
        for s, p in zip(self.shadow_params, self.params, strict=True):
            p.copy_(s)

    @torch.no_grad()
    def restore(self) -> None:
        if self.collected_params is not None:
            for c, p in zip(self.collected_params, self.params, strict=True):
                p.copy_(c)
        self.collected_params = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "decay": self.decay,
            "num_updates": self.num_updates,
            "shadow_params": [s.detach().cpu().clone() for s in self.shadow_params],
            "collected_params": None,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.decay = float(sd["decay"])
        self.num_updates = int(sd["num_updates"])
        shadow = sd["shadow_params"]
        if len(shadow) != len(self.params):
            raise ValueError(f"EMA state has {len(shadow)} tensors, the model has {len(self.params)} trainable")
        self.shadow_params = [s.to(p.device, p.dtype).clone() for s, p in zip(shadow, self.params, strict=True)]
