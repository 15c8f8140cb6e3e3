"""LawDNet training data: the on-disk layout the preprocess stage writes, and the frame/clip datasets.

Layout of ``<data_root>`` (format ``tfk-lawdnet-train/1``)::

    index.json                  {"format": "tfk-lawdnet-train/1",
                                 "crop_widths": [640],              # W of every crops_<W>.lmdb present
                                 "frontends": ["dp1", "dp2"],       # every audio_<dp>/ directory present
                                 "videos": [{"name": "WDA_x", "n_frames": 200}, ...],
                                 "audio_root": "../features"}       # optional: where audio_<dp>/ lives
    crops_<W>.lmdb/             an LMDB environment (a directory); key  b"<video>/<frame:06d>"  (UTF-8,
                                frame 0-based) -> the JPEG or PNG bytes of the frontalised RGB face crop of
                                size int(1.3*W) x W (W=640 gives 832x640, what the original trains from)
    audio_<dp>/<video>.npy      float32 (T, 29): 25-fps DeepSpeech logits of that video, row i = frame i
                                (``dp1`` = TF DeepSpeech v0.1, ``dp2`` = deepspeech.pytorch V3)

Video names must not contain ``/``. Each video is cut into non-overlapping 9-frame clips (clip k = frames
9k..9k+8) over the frames that have both a crop and audio rows; a video needs at least one clip.

Samples (tensors float32; crops RGB in [0, 1] resized to the stage crop ``crop_size(mouth)`` = (H, W)):

* frame stage (:class:`FrameDataset`): ``source`` [3,H,W] (the target frame, one of frames 2..6 of a
  random clip), ``masked`` [3,H,W] (``source`` with the soft mouth mask applied), ``refs`` [15,H,W]
  (one random frame from each of 5 other clips of the same video), ``audio`` [29,5] (rows f-2..f+2).
* clip stage (:class:`ClipDataset`): frames 2..6 of one clip: ``source``/``masked`` [5,3,H,W],
  ``refs`` [5,15,H,W] (5 fresh references per frame), ``audio`` [5,29,5] and ``sync_audio`` [29,9] (the
  clip's 9 rows of the SyncNet front-end, DP1 for the published SyncNet).

Randomness comes from ``(seed, epoch, index)`` only, so a sample is the same in any process or worker
and a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tfk.errors import BadInput, ConfigError, InputNotFound

__all__ = [
    "FORMAT",
    "ClipDataset",
    "FrameDataset",
    "SampleSource",
    "TrainData",
    "make_tiny_dataset",
]

FORMAT = "tfk-lawdnet-train/1"
CLIP_LEN = 9
N_REFS = 5


class SampleSource(Protocol):
    """What the trainer needs from a dataset: indexable per-sample dicts of tensors, re-seedable per epoch."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def set_epoch(self, epoch: int) -> None: ...


_ENVS: dict[tuple[int, str], Any] = {}  # LMDB allows one environment per path and process


def _open_env(path: Path):
    import lmdb

    key = (os.getpid(), str(path.resolve()))
    if key not in _ENVS:
        if not path.is_dir():
            raise InputNotFound(f"training crops missing: {path}")
        _ENVS[key] = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    return _ENVS[key]


def _key(video: str, frame: int) -> bytes:
    return f"{video}/{frame:06d}".encode()


class TrainData:
    """Read access to a ``<data_root>`` (index, crops LMDB, audio features). Safe across worker processes."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        idx_path = self.root / "index.json"
        if not idx_path.is_file():
            raise InputNotFound(
                f"no LawDNet training data at {self.root} (index.json missing)", hint="tfk preprocess lawdnet ..."
            )
        try:
            self.index = json.loads(idx_path.read_text())
        except ValueError as exc:
            raise BadInput(f"{idx_path} is not valid JSON: {exc}") from None
        if self.index.get("format") != FORMAT:
            raise BadInput(f"{idx_path}: format {self.index.get('format')!r} is not {FORMAT}")
        self.videos: list[dict[str, Any]] = list(self.index.get("videos") or [])
        self.crop_widths = sorted(int(w) for w in self.index.get("crop_widths") or [])
        self.frontends = list(self.index.get("frontends") or [])
        # feature files may live in a sibling step directory (``"audio_root": "../features"``)
        self.audio_root = (self.root / str(self.index.get("audio_root") or ".")).resolve()
        if not self.videos or not self.crop_widths:
            raise BadInput(f"{idx_path} lists no videos or no crops")
        self._env = None
        self._env_path: Path | None = None
        self._pid = -1
        self._audio: dict[tuple[str, str], np.ndarray] = {}

    def lmdb_for(self, width: int) -> Path:
        """The crops LMDB to read for a stage crop width: the smallest one at least as wide, else the widest."""
        wide = [w for w in self.crop_widths if w >= width]
        return self.root / f"crops_{wide[0] if wide else self.crop_widths[-1]}.lmdb"

    def _txn_env(self, width: int):
        path = self.lmdb_for(width)
        if self._env is None or self._pid != os.getpid() or self._env_path != path:
            self._env = _open_env(path)
            self._env_path, self._pid = path, os.getpid()
        return self._env

    def image(self, video: str, frame: int, size: tuple[int, int]) -> np.ndarray:
        """RGB uint8 crop of ``size`` (H, W)."""
        import cv2

        h, w = size
        with self._txn_env(w).begin() as txn:
            buf = txn.get(_key(video, frame))
        if buf is None:
            raise BadInput(f"training crop {video}/{frame:06d} missing from {self.lmdb_for(w).name}")
        bgr = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise BadInput(f"training crop {video}/{frame:06d} is not a decodable image")
        if bgr.shape[:2] != (h, w):
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def audio(self, video: str, frontend: str) -> np.ndarray:
        key = (video, frontend)
        if key not in self._audio:
            path = self.audio_root / f"audio_{frontend}" / f"{video}.npy"
            if not path.is_file():
                raise InputNotFound(f"audio features missing: {path}", hint=f"preprocess with the {frontend} front-end")
            arr = np.load(path).astype(np.float32)
            if arr.ndim != 2 or arr.shape[1] != 29:
                raise BadInput(f"{path}: expected (T, 29) DeepSpeech features, got {arr.shape}")
            self._audio[key] = arr
        return self._audio[key]

    def n_clips(self, video: dict[str, Any], frontends: Iterable[str]) -> int:
        usable = int(video["n_frames"])
        for fe in frontends:
            usable = min(usable, len(self.audio(video["name"], fe)))
        return usable // CLIP_LEN

    def __getstate__(self) -> dict[str, Any]:  # LMDB handles do not cross processes
        state = dict(self.__dict__)
        state["_env"], state["_pid"] = None, -1
        return state


class _Base:
    def __init__(self, data: TrainData | str | Path, mouth: int, frontend: str, augment_num: int = 1, seed: int = 0):
        from tfk_lawdnet.models.lawdnet import crop_size

        self.data = data if isinstance(data, TrainData) else TrainData(data)
        if frontend not in self.data.frontends:
            raise ConfigError(
                f"training data has no {frontend} audio features (has {', '.join(self.data.frontends) or 'none'})"
            )
        self.mouth, self.frontend, self.seed = mouth, frontend, seed
        self.size = crop_size(mouth)
        self.augment_num = max(1, int(augment_num))
        self.epoch = 0
        self._frontends = [frontend]

    def _finish_init(self) -> None:
        self.clips = [self.data.n_clips(v, self._frontends) for v in self.data.videos]
        bad = [v["name"] for v, n in zip(self.data.videos, self.clips, strict=True) if n < 1]
        if bad:
            raise BadInput(f"video(s) shorter than one 9-frame clip: {', '.join(bad[:5])}")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.augment_num * len(self.data.videos)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _tensor(self, img: np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)

    def _masked(self, t):
        import torch

        from tfk_lawdnet.mask import source_mask

        m = torch.from_numpy(np.array(source_mask(*self.size), dtype=np.float32))
        return t * (1.0 - m)

    def _refs(self, rng: np.random.Generator, name: str, n_clips: int, source_clip: int):
        import torch

        others = [c for c in range(n_clips) if c != source_clip] or [source_clip]
        picks = rng.choice(others, N_REFS, replace=len(others) < N_REFS)
        frames = [int(c) * CLIP_LEN + int(rng.integers(0, CLIP_LEN)) for c in picks]
        return torch.cat([self._tensor(self.data.image(name, f, self.size)) for f in frames], 0)

    def _window(self, feats: np.ndarray, frame: int):
        import torch

        return torch.from_numpy(np.ascontiguousarray(feats[frame - 2 : frame + 3].T))


class FrameDataset(_Base):
    """Frame-stage samples (see the module docstring)."""

    def __init__(self, data, mouth: int, frontend: str, augment_num: int = 1, seed: int = 0):
        super().__init__(data, mouth, frontend, augment_num, seed)
        self._finish_init()

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        vi = index % len(self.data.videos)
        name, n = self.data.videos[vi]["name"], self.clips[vi]
        clip = int(rng.integers(0, n))
        frame = clip * CLIP_LEN + int(rng.integers(2, 7))
        src = self._tensor(self.data.image(name, frame, self.size))
        return {
            "source": src,
            "masked": self._masked(src),
            "refs": self._refs(rng, name, n, clip),
            "audio": self._window(self.data.audio(name, self.frontend), frame),
        }


class ClipDataset(_Base):
    """Clip-stage samples: 5 consecutive frames, their references and windows, and the SyncNet window."""

    def __init__(self, data, mouth: int, frontend: str, sync_frontend: str, augment_num: int = 1, seed: int = 0):
        super().__init__(data, mouth, frontend, augment_num, seed)
        if sync_frontend not in self.data.frontends:
            raise ConfigError(f"training data has no {sync_frontend} audio features for the sync loss")
        self.sync_frontend = sync_frontend
        self._frontends = sorted({frontend, sync_frontend})
        self._finish_init()

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        rng = self._rng(index)
        vi = index % len(self.data.videos)
        name, n = self.data.videos[vi]["name"], self.clips[vi]
        clip = int(rng.integers(0, n))
        frames = [clip * CLIP_LEN + k for k in range(2, 7)]
        src = torch.stack([self._tensor(self.data.image(name, f, self.size)) for f in frames])
        feats = self.data.audio(name, self.frontend)
        sync = self.data.audio(name, self.sync_frontend)[clip * CLIP_LEN : clip * CLIP_LEN + CLIP_LEN]
        return {
            "source": src,
            "masked": self._masked(src),
            "refs": torch.stack([self._refs(rng, name, n, clip) for _ in frames]),
            "audio": torch.stack([self._window(feats, f) for f in frames]),
            "sync_audio": torch.from_numpy(np.ascontiguousarray(sync.T)),
        }


def _write_lmdb(path: Path, items: Iterable[tuple[bytes, bytes]]) -> None:
    import lmdb

    for key in [k for k in _ENVS if k[1] == str(path.resolve())]:
        _ENVS.pop(key).close()
    map_size = 64 << 20
    pending = list(items)
    while True:
        env = lmdb.open(str(path), map_size=map_size, subdir=True)
        try:
            with env.begin(write=True) as txn:
                for k, v in pending:
                    txn.put(k, v)
            env.sync()
            return
        except lmdb.MapFullError:
            map_size *= 4
        finally:
            env.close()


def make_tiny_dataset(
    root: str | Path,
    frames_iter: Iterable[np.ndarray],
    features: np.ndarray | Mapping[str, np.ndarray],
    name: str = "clip0",
    crop_width: int | None = None,
) -> Path:
    """Write one video into the ``<data_root>`` layout (adding to an existing root): its RGB uint8 face crops
    (resized to int(1.3*W) x W, W = ``crop_width`` or the first frame's width) as PNG, and its (T, 29)
    features, either one array (written as both ``dp1`` and ``dp2``) or ``{frontend: array}``.
    """
    import cv2

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if "/" in name:
        raise ValueError("video names must not contain '/'")
    feats = dict(features) if isinstance(features, Mapping) else {"dp1": features, "dp2": features}
    items, width = [], crop_width
    for i, rgb in enumerate(frames_iter):
        width = width or int(rgb.shape[1])
        size = (width, int(width * 1.3))
        img = rgb if (rgb.shape[1], rgb.shape[0]) == size else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2BGR))
        if not ok:
            raise BadInput(f"could not encode frame {i}")
        items.append((_key(name, i), buf.tobytes()))
    if not items or width is None:
        raise BadInput("no frames given")
    _write_lmdb(root / f"crops_{width}.lmdb", items)
    for fe, arr in feats.items():
        arr = np.asarray(arr, np.float32)
        if arr.ndim != 2 or arr.shape[1] != 29:
            raise BadInput(f"features for {fe} must be (T, 29), got {arr.shape}")
        (root / f"audio_{fe}").mkdir(exist_ok=True)
        np.save(root / f"audio_{fe}" / f"{name}.npy", arr)
    idx_path = root / "index.json"
    index = json.loads(idx_path.read_text()) if idx_path.is_file() else {"format": FORMAT, "videos": []}
    index["videos"] = [v for v in index["videos"] if v["name"] != name] + [{"name": name, "n_frames": len(items)}]
    index["crop_widths"] = sorted(set(index.get("crop_widths", [])) | {width})
    index["frontends"] = sorted(set(index.get("frontends", [])) | set(feats))
    tmp = idx_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, idx_path)
    return root
