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
otherwise. :func:`resolve` raises that reason as a tfk error instead (inference: ``tfk weights pull ...`` named),
and :func:`extract` runs the front-end. ER-NeRF's ``--asr_model`` picks the network width by substring
(deepspeech 29, esperanto 44, hubert 1024).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound, MissingWeights, TfkError, Unavailable

KINDS = ("deepspeech", "hubert", "wav2vec")
DEEPSPEECH_ID = "shared/deepspeech_v010"
_SNAPSHOT = {"hubert": "hubert-large-ls960-ft", "wav2vec": "wav2vec2-large-xlsr-53-esperanto"}

#: ``find(artifact_id) -> file or None``: where weights are looked up (default :func:`tfk.weights.find`)
Find = Callable[[str], "Path | None"]


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
    raise BadInput(f"unknown audio features {kind!r} (choose from {', '.join(KINDS)})")


def _missing(what: str, ids: list[str]) -> MissingWeights:
    return MissingWeights(f"{what} is not in the weights store", hint=f"tfk weights pull {' '.join(ids)}", missing=ids)


def _probe(kind: str, model: Path | None, find: Find | None) -> tuple[str | None, TfkError | None]:
    """``(state, None)`` when the front-end can run here, else ``(None, the error saying why)``."""
    if find is None:
        from tfk.weights import find as store_find

        find = store_find
    if kind == "deepspeech":
        if importlib.util.find_spec("tensorflow") is None:
            return None, Unavailable("DeepSpeech v0.1 features need TensorFlow", hint="pip install tensorflow-cpu")
        if model is not None:
            ok = Path(model).is_file()
            return (str(model), None) if ok else (None, InputNotFound(f"DeepSpeech graph not found: {model}"))
        p = find(DEEPSPEECH_ID)
        return (str(p), None) if p is not None else (None, _missing("DeepSpeech v0.1 graph", [DEEPSPEECH_ID]))
    if kind in _SNAPSHOT:
        if importlib.util.find_spec("transformers") is None:
            why = f"{kind} features need the 'transformers' package"
            return None, Unavailable(why, hint="pip install transformers")
        if model is not None:
            if (Path(model) / "config.json").is_file():
                return str(model), None
            return None, InputNotFound(f"no Hugging Face model (config.json) in {model}")
        from tfk.audio.artifacts import HF_SNAPSHOTS

        ids = HF_SNAPSHOTS[_SNAPSHOT[kind]]
        paths = [find(i) for i in ids]
        missing = [i for i, p in zip(ids, paths, strict=True) if p is None]
        if missing:
            return None, _missing(_SNAPSHOT[kind], missing)
        return "|".join(str(p) for p in paths), None
    return None, BadInput(f"unknown audio features {kind!r} (choose from {', '.join(KINDS)})")


def availability(kind: str, model: Path | None = None, find: Find | None = None) -> tuple[str | None, str]:
    """``(state, reason)``: ``state`` identifies the weights (for the step fingerprint), ``None`` when the
    front-end cannot run here; ``reason`` then says why and what to do. Never downloads anything.

    ``model`` is an explicit DeepSpeech graph / Hugging Face model folder; ``find`` replaces the store lookup.
    """
    state, err = _probe(kind, model, find)
    if err is None:
        return state, ""
    return None, f"{err.message} ({err.hint})" if err.hint else err.message


def resolve(kind: str, model: Path | None = None, find: Find | None = None) -> str:
    """The ``state`` :func:`extract` needs, or the error why the front-end cannot run: :class:`MissingWeights`
    (naming the ``tfk weights pull`` command), :class:`Unavailable` (runtime missing), :class:`InputNotFound`
    (a bad ``model`` path) or :class:`BadInput` (unknown kind). Never downloads anything."""
    state, err = _probe(kind, model, find)
    if err is not None:
        raise err
    assert state is not None
    return state


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
    """Run the front-end (``state`` from :func:`resolve` / :func:`availability`) on 16 kHz mono audio -> the file
    layout of ``kind``."""
    if kind == "deepspeech":
        from tfk.audio.deepspeech_tf import DeepSpeechV01

        with DeepSpeechV01(state) as ds:
            return ds.features(wav, sr, layout="adnerf")
    spec(kind)  # an unknown kind is a BadInput
    if len(wav) < 400:  # the wav2vec2/HuBERT convolution front-end needs one 25 ms window
        raise BadInput(f"the audio is too short for {kind} features ({len(wav)} samples)")
    model_dir = _model_dir(kind, state)
    if kind == "hubert":
        from tfk.audio import hubert

        model = hubert.load_model(model_dir, "hubert", device)
        return to_layout(kind, hubert.hidden_states(model, wav, sr, hubert._do_normalize(model_dir)), len(wav), sr)
    return to_layout(kind, _ctc_logits(model_dir, wav, device), len(wav), sr)


def _model_dir(kind: str, state: str) -> Path:
    """A folder ``from_pretrained`` can read: the explicit model folder, the store files' common folder, or a
    folder of symlinks named as the snapshot's files (keyed by the files, so one state gives one folder)."""
    import hashlib
    import tempfile

    from tfk.audio.artifacts import ARTIFACTS, HF_SNAPSHOTS

    paths = [Path(p) for p in state.split("|")]
    if len(paths) == 1:
        return paths[0]
    by_id = {a.id: a for a in ARTIFACTS}
    names = [by_id[i].filename for i in HF_SNAPSHOTS[_SNAPSHOT[kind]]]
    if len({p.parent for p in paths}) == 1 and [p.name for p in paths] == names:
        return paths[0].parent
    key = hashlib.sha1(state.encode()).hexdigest()[:12]
    d = Path(tempfile.gettempdir()) / f"tfk-hf-{_SNAPSHOT[kind]}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    for name, src in zip(names, paths, strict=True):
        link = d / name
        if not link.exists():
            with contextlib.suppress(FileExistsError):  # another process made it
                link.symlink_to(src.resolve())
    return d


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
