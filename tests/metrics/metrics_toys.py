"""Toy stand-ins shared by the metrics tests: a brightness/loudness-coded clip and a SyncNet look-alike."""

import numpy as np
import torch

FRAME = 640  # audio samples per 25 fps frame at 16 kHz


class ToyNet:
    """Embeds a lip window by its 5 frame brightnesses and an audio window by its 5 per-frame log energies.

    Both are standardised, so the distance is smallest where brightness and loudness sequences line up.
    """

    @staticmethod
    def _std(x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean(dim=1, keepdim=True)
        return x / (x.norm(dim=1, keepdim=True) + 1e-6)

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:  # [B,3,5,224,224]
        return self._std(x.mean(dim=(1, 3, 4)))

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:  # [B,1,13,20]; c0 = log frame energy
        return self._std(x[:, 0, 0, :].reshape(-1, 5, 4).mean(dim=2))


def toy_clip(n=60, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.uniform(40, 215, size=n)
    frames = [np.full((48, 48, 3), v, np.uint8) for v in b]
    amp = 20 * np.exp(b / 30) / 32768
    audio = np.concatenate([a * rng.standard_normal(FRAME) for a in amp]).astype(np.float32)
    return frames, audio
