"""Lip-sync error LSE-C / LSE-D with SyncNet v2 (Chung & Zisserman 2016; joonson/syncnet_python).

Reference definition (``SyncNetInstance.evaluate`` + ``calc_pdist``, as used by Wav2Lip and the
talkingface-toolkit ``LSE`` metric):

* video: 25 fps frames, **BGR** 224×224, float 0..255 (no normalisation); lip stream input
  [B,3,5,224,224] = 5 consecutive frames;
* audio: 16 kHz mono int16 samples; ``python_speech_features.mfcc(audio, 16000)`` with its defaults
  (13 coefficients, 25 ms window, 10 ms step → 100 Hz); audio input [B,1,13,20] = MFCC frames 4i..4i+20;
* ``min_length = min(n_frames, floor(n_samples / 640))``; windows i = 0 .. min_length-6;
* distances: audio features zero-padded by ``vshift`` (15) on both sides; for every video window i the
  pairwise distance (``F.pairwise_distance``, eps 1e-6) to audio windows i-vshift..i+vshift; mean over i
  gives ``mdist`` [2·vshift+1];
* **LSE-D** = min(mdist), **LSE-C** = median(mdist) - min(mdist), **offset** = vshift - argmin (frames;
  positive = the audio leads the video).

Preprocessing choice (documented, not the paper pipeline): tfk resizes **whole frames** to 224×224 like the
talkingface-toolkit (no S3FD face tracking/cropping). Numbers are comparable to papers only when the input
is already a face crop similar to syncnet_python's (face box +40 %, slightly extended downwards).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tfk.errors import BadInput
from tfk.metrics._weights import check_contract, load_state_dict, resolve_weights

ARTIFACT_ID = "shared/syncnet_v2"
VSHIFT = 15
FPS = 25
SAMPLE_RATE = 16000
CROP = 224


class SyncNet(nn.Module):
    """syncnet_python's ``S`` (SyncNet v2), same module names so ``syncnet_v2.model`` loads strictly."""

    def __init__(self, emb: int = 1024):
        super().__init__()
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=1, stride=1),
            nn.Conv2d(64, 192, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(192),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=(1, 2)),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.BatchNorm2d(384),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 512, kernel_size=(5, 4), padding=0),
            nn.BatchNorm2d(512),
            nn.ReLU(),
        )
        self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, emb))
        self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, emb))
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
            nn.BatchNorm3d(96),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
            nn.BatchNorm3d(256),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
            nn.BatchNorm3d(512),
            nn.ReLU(inplace=True),
        )
        self.eval()
        self.requires_grad_(False)

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """[B,1,13,20] MFCC windows -> [B,1024]."""
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """[B,3,5,224,224] BGR 0..255 -> [B,1024]."""
        return self.netfclip(self.netcnnlip(x).flatten(1))


def syncnet_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of ``syncnet_v2.model`` (a plain state dict of ``S``)."""
    with torch.device("meta"):
        net = SyncNet()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _required_shapes() -> dict[str, tuple[int, ...]]:
    return {k: v for k, v in syncnet_shapes().items() if not k.endswith("num_batches_tracked")}


def load_syncnet(device: str = "cpu", path: str | Path | None = None, download: bool = True) -> SyncNet:
    file = resolve_weights(ARTIFACT_ID, "LSE (SyncNet)", path, download)
    sd = load_state_dict(file, "SyncNet")
    check_contract(sd, _required_shapes(), "SyncNet", file)
    net = SyncNet()
    net.load_state_dict(sd, strict=False)  # the 2017 file has no num_batches_tracked buffers
    return net.to(device)


def validate_syncnet_weights(path: str | Path) -> None:
    check_contract(load_state_dict(path, "SyncNet"), _required_shapes(), "SyncNet", path)


# ---------------------------------------------------------------- offset search (calc_pdist)


@dataclass
class SyncResult:
    lse_d: float  # min over shifts of the mean embedding distance (lower = better sync)
    lse_c: float  # median - min (higher = more confident sync)
    offset: int  # frames; positive = audio leads video
    mean_dists: np.ndarray  # [2*vshift+1]
    windows: int


def shifted_distances(video_feats: torch.Tensor, audio_feats: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """[N, 2·vshift+1] distances of video window i to audio windows i-vshift..i+vshift (zero padded)."""
    import torch.nn.functional as F

    v = torch.as_tensor(video_feats, dtype=torch.float32)
    a = torch.as_tensor(audio_feats, dtype=torch.float32)
    if v.ndim != 2 or a.shape != v.shape:
        raise BadInput(f"LSE: video/audio feature shapes differ: {list(v.shape)} vs {list(a.shape)}")
    win = 2 * vshift + 1
    ap = F.pad(a, (0, 0, vshift, vshift))
    idx = torch.arange(len(v)).view(-1, 1) + torch.arange(win).view(1, -1)  # [N, win]
    return F.pairwise_distance(v.unsqueeze(1).expand(-1, win, -1), ap[idx])


def sync_from_features(video_feats, audio_feats, vshift: int = VSHIFT) -> SyncResult:
    """LSE-D, LSE-C and offset from per-window embeddings (syncnet_python's ``calc_pdist`` + min/median)."""
    d = shifted_distances(video_feats, audio_feats, vshift)
    if len(d) == 0:
        raise BadInput("LSE: the clip is too short for one 5-frame window")
    mdist = d.mean(dim=0)
    minval, minidx = torch.min(mdist, 0)
    conf = torch.median(mdist) - minval
    return SyncResult(float(minval), float(conf), int(vshift - int(minidx)), mdist.numpy(), len(d))


# ---------------------------------------------------------------- preprocessing


def mfcc_16k(audio: np.ndarray) -> np.ndarray:
    """13×T MFCC (100 Hz) of 16 kHz mono audio; float input in [-1,1] is scaled to the int16 range."""
    import python_speech_features

    a = np.asarray(audio)
    if a.ndim != 1:
        raise BadInput(f"LSE: expected mono audio, got shape {list(a.shape)}")
    if a.dtype.kind == "f":
        a = np.clip(np.round(a * 32768.0), -32768, 32767).astype(np.int16)
    return python_speech_features.mfcc(a, SAMPLE_RATE).T.astype(np.float32)


def prepare_frame(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 frame -> BGR 224×224 uint8 (whole frame, see the module docstring)."""
    import cv2

    f = np.ascontiguousarray(rgb[:, :, ::-1])
    if f.shape[:2] != (CROP, CROP):
        interp = cv2.INTER_AREA if min(f.shape[:2]) > CROP else cv2.INTER_LINEAR
        f = cv2.resize(f, (CROP, CROP), interpolation=interp)
    return f


@torch.no_grad()
def lse(
    frames: Iterable[np.ndarray],
    audio: np.ndarray,
    net: SyncNet | None = None,
    device: str = "cpu",
    vshift: int = VSHIFT,
    batch_size: int = 16,
    prepare: Callable[[np.ndarray], np.ndarray] = prepare_frame,
    download: bool = True,
) -> SyncResult:
    """LSE-C/LSE-D of a 25 fps RGB frame stream and its 16 kHz mono audio (streaming, constant memory).

    ``net`` defaults to SyncNet v2 from the weights store. ``prepare`` maps an RGB frame to the BGR
    224×224 uint8 lip-stream input (override it to crop a face).
    """
    if net is None:
        net = load_syncnet(device, download=download)
    mfcc = mfcc_16k(audio)
    max_windows = int(np.floor(len(audio) / (SAMPLE_RATE // FPS)))
    vfeats: list[torch.Tensor] = []
    afeats: list[torch.Tensor] = []
    buf: deque[np.ndarray] = deque(maxlen=6)
    pending: list[int] = []
    clips: list[np.ndarray] = []

    def flush() -> None:
        if not pending:
            return
        lip = torch.from_numpy(np.stack(clips)).to(device).float()  # [B,5,H,W,3]
        lip = lip.permute(0, 4, 1, 2, 3).contiguous()  # [B,3,5,H,W]
        aud = torch.from_numpy(np.stack([mfcc[:, 4 * i : 4 * i + 20] for i in pending])).to(device)
        vfeats.append(net.forward_lip(lip).float().cpu())
        afeats.append(net.forward_aud(aud.unsqueeze(1).float()).float().cpu())
        pending.clear()
        clips.clear()

    n = 0
    for frame in frames:
        buf.append(prepare(frame))
        n += 1
        # syncnet_python uses windows range(0, min_length - 5): window i is taken once frame i+5 exists
        i = n - 6
        if len(buf) == 6 and i < max_windows - 5 and 4 * i + 20 <= mfcc.shape[1]:
            pending.append(i)
            clips.append(np.stack(list(buf)[:5]))
            if len(pending) >= batch_size:
                flush()
    flush()
    if not vfeats:
        raise BadInput(f"LSE: too short for SyncNet ({n} frames, {len(audio) / SAMPLE_RATE:.2f} s of audio)")
    return sync_from_features(torch.cat(vfeats), torch.cat(afeats), vshift)
