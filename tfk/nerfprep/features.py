"""Audio features for the NeRF models, in the layout each original checkpoint expects.

========== ============================ ================================ ================================
kind        front-end                    file (ER-NeRF / DFRF)            layout
========== ============================ ================================ ================================
deepspeech  DeepSpeech v0.1.0 (TF graph)  ``aud_ds.npy`` / ``aud.npy``     ``[N, 16, 29]`` AD-NeRF windows
hubert      facebook/hubert-large-ls960   ``aud_hu.npy``                   ``[T/2, 2, 1024]`` ER-NeRF HuBERT
wav2vec     wav2vec2-xlsr-53-esperanto    ``aud_eo.npy``                   ``[M/2+1, 16, 44]`` CTC logits
========== ============================ ================================ ================================

``N`` is about 25 x seconds (one row per video frame). :func:`availability` says whether a front-end can run here
(runtime installed and weights present) without downloading anything; the step is skipped with that reason
otherwise. ER-NeRF's ``--asr_model`` picks the network width by substring (deepspeech 29, esperanto 44,
hubert 1024).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfk.errors import BadInput

DEEPSPEECH_ID = "shared/deepspeech_v010"
_SNAPSHOT = {"hubert": "hubert-large-ls960-ft", "wav2vec": "wav2vec2-large-xlsr-53-esperanto"}


@dataclass(frozen=True)
class FeatureSpec:
    kind: str
    file: str
    layout: str
    dim: int
    asr_model: str  #: the original's ``--asr_model`` value that selects this width


def spec(kind: str, layout: str = "ernerf") -> FeatureSpec:
    if kind == "deepspeech":
        name = "aud.npy" if layout == "dfrf" else "aud_ds.npy"
        return FeatureSpec(kind, name, "[N,16,29] AD-NeRF DeepSpeech windows", 29, "deepspeech")
    if kind == "hubert":
        return FeatureSpec(
            kind, "aud_hu.npy", "[T/2,2,1024] ER-NeRF HuBERT pairs", 1024, "facebook/hubert-large-ls960-ft"
        )
    if kind == "wav2vec":
        return FeatureSpec(
            kind, "aud_eo.npy", "[M/2+1,16,44] unfolded CTC logits", 44, "cpierse/wav2vec2-large-xlsr-53-esperanto"
        )
    raise BadInput(f"unknown audio features {kind!r}")


def _artifact_paths(ids) -> list[Path] | None:
    from tfk import weights

    paths = [weights.find(i) for i in ids]
    return None if any(p is None for p in paths) else [Path(p) for p in paths]  # type: ignore[arg-type]


def availability(kind: str, model: Path | None = None) -> tuple[str | None, str]:
    """``(state, reason)``: ``state`` identifies the weights (for the step fingerprint), ``None`` when the
    front-end cannot run here; ``reason`` then says why and what to do."""
    if kind == "deepspeech":
        if importlib.util.find_spec("tensorflow") is None:
            return None, "DeepSpeech v0.1 features need TensorFlow (pip install tensorflow-cpu)"
        if model is not None:
            return (str(model), "") if Path(model).is_file() else (None, f"DeepSpeech graph not found: {model}")
        p = _artifact_paths([DEEPSPEECH_ID])
        if p is None:
            return None, f"DeepSpeech v0.1 graph is not in the weights store (tfk weights pull {DEEPSPEECH_ID})"
        return str(p[0]), ""
    if kind in _SNAPSHOT:
        if importlib.util.find_spec("transformers") is None:
            return None, f"{kind} features need the 'transformers' package (pip install transformers)"
        if model is not None:
            ok = (Path(model) / "config.json").is_file()
            return (str(model), "") if ok else (None, f"no Hugging Face model (config.json) in {model}")
        from tfk.audio.artifacts import HF_SNAPSHOTS

        ids = HF_SNAPSHOTS[_SNAPSHOT[kind]]
        p = _artifact_paths(ids)
        if p is None:
            return None, f"{_SNAPSHOT[kind]} is not in the weights store (tfk weights pull {' '.join(ids)})"
        return "|".join(str(x) for x in p), ""
    return None, f"unknown audio features {kind!r}"


def to_layout(kind: str, raw50: np.ndarray, n_samples: int, sr: int = 16000) -> np.ndarray:
    """Turn 50 steps/s front-end output into the file layout of ``kind`` (pure numpy)."""
    from tfk.audio.align import adnerf_windows, ernerf_hubert_layout, unfold_windows

    if kind == "deepspeech":
        return adnerf_windows(raw50, n_samples, sr)
    if kind == "hubert":
        return ernerf_hubert_layout(raw50)
    if kind == "wav2vec":
        return unfold_windows(raw50)
    raise BadInput(f"unknown audio features {kind!r}")


def check_rows(features: np.ndarray, n_frames: int, kind: str) -> None:
    """The features must cover the video: about one row per frame (the originals differ by one or two)."""
    rows = int(features.shape[0])
    if abs(rows - n_frames) > 2:
        raise BadInput(f"{kind} features have {rows} rows for {n_frames} video frames (expected about one per frame)")


def extract(kind: str, wav: np.ndarray, state: str, device: str = "cpu", sr: int = 16000) -> np.ndarray:
    """Run the front-end (``state`` from :func:`availability`) on 16 kHz mono audio -> the file layout."""
    if kind == "deepspeech":
        from tfk.audio.deepspeech_tf import DeepSpeechV01

        with DeepSpeechV01(state) as ds:
            return ds.features(wav, sr, layout="adnerf")
    from tfk.audio import hubert

    paths = [Path(p) for p in state.split("|")]
    model_dir = paths[0] if len(paths) == 1 else hubert.snapshot_dir(_SNAPSHOT[kind])
    if kind == "hubert":
        model = hubert.load_model(model_dir, "hubert", device)
        return to_layout(kind, hubert.hidden_states(model, wav, sr, hubert._do_normalize(model_dir)), len(wav), sr)
    return to_layout(kind, _ctc_logits(model_dir, wav, device), len(wav), sr)


def _ctc_logits(model_dir: Path, wav: np.ndarray, device: str) -> np.ndarray:
    """wav2vec2 CTC logits ``[M, C]`` at 50 steps/s, one pass over the normalised utterance."""
    import torch
    import transformers

    model = transformers.Wav2Vec2ForCTC.from_pretrained(str(model_dir), local_files_only=True).to(device).eval()
    x = np.asarray(wav, dtype=np.float64)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    with torch.no_grad():
        out = model(torch.from_numpy(x.astype(np.float32))[None].to(device)).logits[0]
    return out.float().cpu().numpy()
