"""deepspeech.pytorch V3 ("DP2", the audio front-end of LawDNet epoch 170) re-implemented in torch.

Only the ``state_dict`` of the published Lightning checkpoint ``librispeech_pretrained_v3.ckpt`` is read,
with ``torch.load(weights_only=True)``; the checkpoint's pickled hyper-parameters (OmegaConf / enum objects
of packages tfk does not install) are replaced by inert placeholders (:func:`load_state_dict`).

Front-end (:func:`spectrogram`): STFT ``n_fft = win = 0.02 * 16000 = 320``, hop ``0.01 * 16000 = 160``,
periodic Hamming window, ``center=True`` with zero padding (librosa >= 0.9), magnitude, ``log1p``, then
normalised by the utterance's scalar mean and (unbiased) std -> ``[161, 1 + N // 160]`` at 100 frames/s.

Network (:class:`DeepSpeech2`, key names identical to the checkpoint's ``state_dict``)::

    conv.seq_module.0  Conv2d(1, 32, (41, 11), stride (2, 2), pad (20, 5))   .1 BatchNorm2d(32)  .2 Hardtanh(0, 20)
    conv.seq_module.3  Conv2d(32, 32, (21, 11), stride (2, 1), pad (10, 5))  .4 BatchNorm2d(32)  .5 Hardtanh(0, 20)
    rnns.0.rnn          LSTM(32 * 41 = 1312 -> 1024), bidirectional, directions summed, no BatchNorm
    rnns.{1..4}         batch_norm.module = BatchNorm1d(1024) (sequence-wise), rnn = LSTM(1024 -> 1024)
    lookahead.0.conv    (unidirectional models only) depthwise Conv1d(1024, 1024, k=20, groups=1024, no bias)
    fc.0.module.0       BatchNorm1d(1024);  fc.0.module.1  Linear(1024 -> 29, no bias)

Time runs at 50 steps/s after the stride-2 first conv (``ceil(T_spec / 2)`` steps). LawDNet takes the
**pre-softmax** ``fc`` output (upstream applies a softmax in eval mode) and keeps every 2nd step:
``[ceil(ceil((N // 160 + 1) / 2) / 2), 29]`` at 25 fps (1 s -> 26, 10 s -> 251; see :mod:`tfk.audio.align`).
LawDNet runs it under fp16 autocast on GPU; here it runs in float32.
"""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tfk.errors import BadInput, InvalidArtifact

ARTIFACT_ID = "shared/deepspeech_pytorch_v3"
#: deepspeech.pytorch's English label set (index 0 is the CTC blank).
LABELS = "_'ABCDEFGHIJKLMNOPQRSTUVWXYZ "
SAMPLE_RATE = 16000
WINDOW_SIZE = 0.02
WINDOW_STRIDE = 0.01
#: network output steps per second (before LawDNet's ``[::2]``).
STEP_RATE = 50.0


# --- front-end -----------------------------------------------------------------------------------------


def spectrogram(
    wav: np.ndarray,
    sr: int = SAMPLE_RATE,
    window_size: float = WINDOW_SIZE,
    window_stride: float = WINDOW_STRIDE,
    normalize: bool = True,
) -> torch.Tensor:
    """Log-magnitude spectrogram ``[n_fft // 2 + 1, 1 + N // hop]`` float32 (deepspeech.pytorch ``AudioParser``)."""
    x = np.asarray(wav)
    if x.ndim != 1:
        raise BadInput(f"expected mono audio (1-D samples), got shape {tuple(x.shape)}")
    if x.size == 0:
        raise BadInput("the audio holds no samples")
    n_fft = int(sr * window_size)
    hop = int(sr * window_stride)
    t = torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)
    win = torch.hamming_window(n_fft, periodic=True, dtype=torch.float64)
    spec = torch.stft(
        t,
        n_fft=n_fft,
        hop_length=hop,
        win_length=n_fft,
        window=win,
        center=True,
        pad_mode="constant",
        return_complex=True,
    ).abs()
    spec = torch.log1p(spec)
    if normalize:
        std = spec.std()
        if not torch.isfinite(std) or std == 0:
            raise BadInput("the audio is digital silence: deepspeech.pytorch features need non-silent speech")
        spec = (spec - spec.mean()) / std
    return spec.to(torch.float32)


# --- network -------------------------------------------------------------------------------------------


class SequenceWise(nn.Module):
    """Apply a module to a ``[T, N, H]`` tensor as ``[T*N, H]``."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n = x.shape[0], x.shape[1]
        return self.module(x.reshape(t * n, -1)).reshape(t, n, -1)


class MaskConv(nn.Module):
    """Conv stack that zeroes time steps past each sequence's length after every layer."""

    def __init__(self, seq_module: nn.Sequential):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for module in self.seq_module:
            x = module(x)
            steps = torch.arange(x.shape[3], device=x.device)
            keep = steps[None, :] < lengths.to(x.device)[:, None]  # [B, T]
            x = x.masked_fill(~keep[:, None, None, :], 0)
        return x


class BatchRNN(nn.Module):
    """Optional sequence-wise BatchNorm, then an (bi)RNN whose two directions are summed."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        rnn_type: type[nn.RNNBase] = nn.LSTM,
        bidirectional: bool = True,
        batch_norm: bool = True,
    ):
        super().__init__()
        self.bidirectional = bidirectional
        self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = rnn_type(input_size=input_size, hidden_size=hidden_size, bidirectional=bidirectional, bias=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu().long(), enforce_sorted=False)
        out, _ = self.rnn(packed)
        x, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])
        if self.bidirectional:
            x = x.view(x.shape[0], x.shape[1], 2, -1).sum(2)
        return x


class Lookahead(nn.Module):
    """Row convolution over ``context`` future steps (unidirectional models)."""

    def __init__(self, n_features: int, context: int):
        super().__init__()
        self.context = context
        self.conv = nn.Conv1d(n_features, n_features, kernel_size=context, groups=n_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, N, H]
        y = F.pad(x.permute(1, 2, 0), (0, self.context - 1))
        return self.conv(y).permute(2, 0, 1).contiguous()


_RNN_TYPES = {"lstm": (nn.LSTM, 4), "gru": (nn.GRU, 3), "rnn": (nn.RNN, 1)}


class DeepSpeech2(nn.Module):
    """deepspeech.pytorch ``DeepSpeech`` with the V3 LibriSpeech defaults; ``forward`` returns pre-softmax logits."""

    def __init__(
        self,
        n_labels: int = len(LABELS),
        hidden_size: int = 1024,
        hidden_layers: int = 5,
        rnn_type: str = "lstm",
        bidirectional: bool = True,
        lookahead_context: int = 20,
        sample_rate: int = SAMPLE_RATE,
        window_size: float = WINDOW_SIZE,
    ):
        super().__init__()
        self.bidirectional = bidirectional
        rnn_cls = _RNN_TYPES[rnn_type][0]
        self.conv = MaskConv(
            nn.Sequential(
                nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)),
                nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True),
                nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)),
                nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True),
            )
        )
        self.rnn_input_size = rnn_input_size(sample_rate, window_size)
        self.rnns = nn.Sequential(
            BatchRNN(self.rnn_input_size, hidden_size, rnn_cls, bidirectional, batch_norm=False),
            *(BatchRNN(hidden_size, hidden_size, rnn_cls, bidirectional) for _ in range(hidden_layers - 1)),
        )
        self.lookahead = (
            None
            if bidirectional
            else nn.Sequential(Lookahead(hidden_size, lookahead_context), nn.Hardtanh(0, 20, inplace=True))
        )
        self.fc = nn.Sequential(
            SequenceWise(nn.Sequential(nn.BatchNorm1d(hidden_size), nn.Linear(hidden_size, n_labels, bias=False)))
        )

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Time steps after the conv stack for spectrogram lengths ``lengths``."""
        out = lengths.long()
        for m in self.conv.seq_module:
            if isinstance(m, nn.Conv2d):
                out = (out + 2 * m.padding[1] - m.dilation[1] * (m.kernel_size[1] - 1) - 1) // m.stride[1] + 1
        return out

    def forward(self, spect: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``spect [B, 1, F, T]``, ``lengths [B]`` -> (logits ``[B, T', n_labels]``, output lengths ``[B]``)."""
        out_len = self.output_lengths(lengths)
        x = self.conv(spect, out_len)
        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t).permute(2, 0, 1).contiguous()  # [T, B, H]
        for rnn in self.rnns:
            x = rnn(x, out_len)
        if self.lookahead is not None:
            x = self.lookahead(x)
        x = self.fc(x)
        return x.transpose(0, 1), out_len


def rnn_input_size(sample_rate: int = SAMPLE_RATE, window_size: float = WINDOW_SIZE) -> int:
    """32 channels x frequency rows left after the two convs (1312 for 16 kHz, 20 ms)."""
    size = int(math.floor((sample_rate * window_size) / 2) + 1)
    size = int(math.floor(size + 2 * 20 - 41) / 2 + 1)
    size = int(math.floor(size + 2 * 10 - 21) / 2 + 1)
    return size * 32


# --- safe checkpoint loading ---------------------------------------------------------------------------

_MODEL_PREFIXES = ("conv.", "rnns.", "lookahead.", "fc.")


class _Opaque:
    """Inert stand-in for a class/function pickled in a checkpoint's metadata (never executes anything)."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


def _opaque_for(name: str) -> type:
    module, _, qual = name.rpartition(".")
    return type(qual or name, (_Opaque,), {"__module__": module or "tfk.audio.opaque"})


def _torch_load_safe(path: Path):
    """``torch.load(weights_only=True)``; unknown globals (hyper-parameter objects) become inert placeholders."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        pass
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InvalidArtifact(f"{path} is not a readable PyTorch checkpoint ({str(exc).splitlines()[0]})") from None
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:
        raise InvalidArtifact(f"{path}: cannot inspect the checkpoint ({str(exc).splitlines()[0]})") from None
    stubs = [(_opaque_for(n), n) for n in names]
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "GLOBAL" in ln), lines[0] if lines else type(exc).__name__)
        raise InvalidArtifact(f"{path}: refused to load the checkpoint safely ({why.strip()})") from None


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The model tensors of a deepspeech.pytorch checkpoint (Lightning ``.ckpt`` or a bare state dict)."""
    path = Path(path)
    obj = _torch_load_safe(path)
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict):
        raise InvalidArtifact(f"{path}: no state_dict in the checkpoint")
    out = {k: v for k, v in sd.items() if k.startswith(_MODEL_PREFIXES)}
    bad = [k for k, v in out.items() if not isinstance(v, torch.Tensor)]
    if bad or "fc.0.module.1.weight" not in out or "rnns.0.rnn.weight_ih_l0" not in out:
        raise InvalidArtifact(f"{path} is not a deepspeech.pytorch checkpoint (model tensors missing or malformed)")
    return out


def config_from_state_dict(sd: dict[str, torch.Tensor]) -> dict:
    """Constructor arguments of :class:`DeepSpeech2` matching a state dict's shapes."""
    n_labels, hidden = sd["fc.0.module.1.weight"].shape
    layers = 0
    while f"rnns.{layers}.rnn.weight_ih_l0" in sd:
        layers += 1
    gates = sd["rnns.0.rnn.weight_ih_l0"].shape[0] // hidden
    rnn_type = {4: "lstm", 3: "gru", 1: "rnn"}.get(gates)
    if rnn_type is None:
        raise InvalidArtifact("unrecognised RNN type in the deepspeech.pytorch state dict")
    cfg = {
        "n_labels": int(n_labels),
        "hidden_size": int(hidden),
        "hidden_layers": layers,
        "rnn_type": rnn_type,
        "bidirectional": "rnns.0.rnn.weight_ih_l0_reverse" in sd,
    }
    if "lookahead.0.conv.weight" in sd:
        cfg["lookahead_context"] = int(sd["lookahead.0.conv.weight"].shape[2])
    if sd["rnns.0.rnn.weight_ih_l0"].shape[1] != rnn_input_size():
        raise InvalidArtifact("the deepspeech.pytorch checkpoint was not trained on 16 kHz / 20 ms spectrograms")
    return cfg


def load_model(path: str | os.PathLike[str] | None = None, device: str = "cpu") -> DeepSpeech2:
    """Build :class:`DeepSpeech2` in eval mode from a checkpoint (default: ``shared/deepspeech_pytorch_v3``)."""
    if path is None:
        from tfk.weights import require

        path = require(ARTIFACT_ID)
    sd = load_state_dict(path)
    model = DeepSpeech2(**config_from_state_dict(sd))
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise InvalidArtifact(
            f"{path}: state dict does not fit deepspeech.pytorch V3 ({str(exc).splitlines()[0]})"
        ) from None
    return model.to(device).eval()


@torch.no_grad()
def logits(model: DeepSpeech2, wav: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Pre-softmax logits ``[T50, n_labels]`` float32 at 50 steps/s for one utterance (one chunk)."""
    if sr != SAMPLE_RATE:
        raise BadInput(f"deepspeech.pytorch needs {SAMPLE_RATE} Hz audio, got {sr} Hz (load it with tfk.audio.load)")
    spec = spectrogram(wav, sr)
    dev = next(model.parameters()).device
    out, _ = model(spec[None, None].to(dev), torch.tensor([spec.shape[1]]))
    return out[0].float().cpu().numpy()


def features(model: DeepSpeech2, wav: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """LawDNet DP2 features ``[T, 29]`` at 25 fps (``logits[::2]``)."""
    return logits(model, wav, sr)[::2]


def validate_checkpoint(path: str | os.PathLike[str]) -> None:
    """Artifact validator: the file holds a loadable deepspeech.pytorch V3 state dict (raises ``InvalidArtifact``)."""
    sd = load_state_dict(path)
    cfg = config_from_state_dict(sd)
    with torch.device("meta"):
        expected = DeepSpeech2(**cfg).state_dict()
    wrong = sorted(set(expected) ^ set(sd)) + [k for k in expected if k in sd and expected[k].shape != sd[k].shape]
    if wrong:
        raise InvalidArtifact(f"{path}: state dict does not match deepspeech.pytorch V3 (e.g. {wrong[0]})")
