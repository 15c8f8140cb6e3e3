"""HuBERT / wav2vec2 features through ``transformers`` (optional) from a local model directory.

ER-NeRF ``aud_hu.npy`` (GeneFace heritage): ``facebook/hubert-large-ls960-ft``, ``HubertModel``'s
``last_hidden_state`` (1024-d, 50 steps/s: the conv front-end is one big kernel 400 / stride 320). The
utterance is normalised once (zero mean, unit variance: the processor's ``do_normalize``), then run in
clips of 320 000 samples that overlap by 80 samples (kernel - stride) so the stitched result equals one
pass; the length is forced to ``(N - 80) // 320`` (zero-padded or cut by one). :func:`tfk.audio.align.
ernerf_hubert_layout` turns it into ``[T/2, 2, 1024]``; :func:`tfk.audio.align.unfold_windows` gives the
Avatar-ERNeRF ``[M/2+1, 16, C]`` layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound, Unavailable

KERNEL = 400
STRIDE = 320
CLIP = STRIDE * 1000
#: HuBERT / wav2vec2 steps per second at 16 kHz.
STEP_RATE = 50.0


def _transformers():
    try:
        import transformers
    except ImportError:
        raise Unavailable(
            "HuBERT/wav2vec2 features need the 'transformers' package", hint="pip install transformers"
        ) from None
    return transformers


def load_model(model_dir: str | os.PathLike[str], kind: str = "hubert", device: str = "cpu"):
    """Load ``HubertModel`` (``kind="hubert"``) or ``Wav2Vec2Model`` from a local Hugging Face snapshot directory."""
    d = Path(model_dir)
    if not (d / "config.json").is_file():
        raise InputNotFound(f"no Hugging Face model (config.json) in {d}")
    tr = _transformers()
    cls = {"hubert": tr.HubertModel, "wav2vec2": tr.Wav2Vec2Model}.get(kind)
    if cls is None:
        raise ValueError("kind must be 'hubert' or 'wav2vec2'")
    return cls.from_pretrained(str(d), local_files_only=True).to(device).eval()


def _do_normalize(model_dir: str | os.PathLike[str] | None) -> bool:
    if model_dir is None:
        return True
    cfg = Path(model_dir) / "preprocessor_config.json"
    if cfg.is_file():
        return bool(json.loads(cfg.read_text()).get("do_normalize", True))
    return True


def hidden_states(model, wav: np.ndarray, sr: int = 16000, normalize: bool = True, clip: int = CLIP) -> np.ndarray:
    """ER-NeRF-style stitched ``last_hidden_state`` ``[(N - 80) // 320, C]`` float32 at 50 steps/s."""
    import torch

    if sr != 16000:
        raise BadInput(f"HuBERT/wav2vec2 need 16 kHz audio, got {sr} Hz (load it with tfk.audio.load)")
    x = np.asarray(wav, dtype=np.float64)
    if x.ndim != 1 or x.size < KERNEL:
        raise BadInput(f"need at least {KERNEL} mono samples for HuBERT features, got shape {tuple(x.shape)}")
    if normalize:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    t = torch.from_numpy(x.astype(np.float32))[None]
    dev = next(model.parameters()).device
    expected = (t.shape[1] - (KERNEL - STRIDE)) // STRIDE
    n_iter = t.shape[1] // clip
    parts = []
    with torch.no_grad():
        for i in range(n_iter):
            start = clip * i
            seg = t[:, start : start + clip - STRIDE + KERNEL]
            parts.append(model(seg.to(dev)).last_hidden_state[0].float().cpu())
        rest = t[:, clip * n_iter :] if n_iter > 0 else t
        if rest.shape[1] >= KERNEL:
            parts.append(model(rest.to(dev)).last_hidden_state[0].float().cpu())
    out = torch.cat(parts, dim=0)
    if out.shape[0] < expected:
        out = torch.nn.functional.pad(out, (0, 0, 0, expected - out.shape[0]))
    return out[:expected].numpy()


def snapshot_dir(name: str = "hubert-large-ls960-ft") -> Path:
    """A directory holding the store's files of a HF snapshot (symlinks), for ``from_pretrained``."""
    import hashlib
    import tempfile

    from tfk.audio.artifacts import ARTIFACTS, HF_SNAPSHOTS
    from tfk.weights import require

    ids = HF_SNAPSHOTS.get(name)
    if ids is None:
        raise ValueError(f"unknown snapshot {name!r}; known: {', '.join(HF_SNAPSHOTS)}")
    by_id = {a.id: a for a in ARTIFACTS}
    files = {by_id[i].filename: Path(require(i)) for i in ids}
    key = hashlib.sha1("|".join(str(p) for p in files.values()).encode()).hexdigest()[:12]
    d = Path(tempfile.gettempdir()) / f"tfk-hf-{name}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    for fname, src in files.items():
        link = d / fname
        if not link.exists():
            link.symlink_to(src.resolve())
    return d
