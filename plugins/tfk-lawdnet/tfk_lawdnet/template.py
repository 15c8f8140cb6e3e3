"""Template video preprocessing for inference, cached per template (so a second audio is fast).

For a template video and a mouth size the cache holds: the 25 fps video (a normalised copy only when the
input is not 25 fps), the landmark track, the per-frame frame->crop matrices and every frontalised crop
as one uint8 ``.npy`` read through a memory map. The cache key is the file's content hash plus the
settings, so an edited template is preprocessed again. The cache directory is built under a temp name
and renamed into place when complete.

Frames are read back in any order (ping-pong loops) with bounded memory: forward runs stream, backward
runs are decoded in chunks of at most ``chunk_bytes`` and reversed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfk.errors import BadInput, NoFaceFound
from tfk.progress import ensure
from tfk_lawdnet.crop import crop_size, exact_crop, matrices_from_landmarks

if TYPE_CHECKING:
    from tfk.progress import Progress

__all__ = ["CACHE_VERSION", "Template", "pingpong_indices", "prepare_template", "template_cache_root"]

CACHE_VERSION = "2"  # 2: crops sampled exactly (exact_crop), not on a 1/32-px grid


def template_cache_root() -> Path:
    from tfk.paths import cache_root

    return cache_root() / "lawdnet" / "templates"


def _file_digest(path: Path) -> str:
    from tfk.fsutil import sha256_file

    return sha256_file(path)


def pingpong_indices(n_out: int, n_template: int) -> np.ndarray:
    """Template frame for each of ``n_out`` output frames: 0..N-1, N-2..1, 0..N-1, ... (cut when longer)."""
    if n_template <= 0:
        raise ValueError("empty template")
    i = np.arange(n_out, dtype=np.int64)
    if n_template == 1:
        return np.zeros(n_out, np.int64)
    period = 2 * n_template - 2
    r = i % period
    return np.where(r < n_template, r, period - r)


@dataclass
class Template:
    """A preprocessed template: frames come from ``video`` (25 fps), crops from the cache."""

    source: Path
    video: Path
    cache_dir: Path
    mouth: int
    n_frames: int
    width: int
    height: int
    matrices: np.ndarray  # (N, 3, 3) frame -> crop
    detected: np.ndarray  # (N,) bool: landmarks detected (not interpolated)
    parity: bool = True
    face: dict | None = None  # which face was dubbed when the template shows several (tfk_lawdnet.faces)
    _crop_offset: int | None = field(default=None, repr=False)

    @property
    def crop_hw(self) -> tuple[int, int]:
        return crop_size(self.mouth)

    def crops(self) -> np.ndarray:
        """All crops (N, H, W, 3) uint8, memory-mapped (not loaded)."""
        return np.load(self.cache_dir / "crops.npy", mmap_mode="r")

    def read_crops(self, indices: Sequence[int]) -> np.ndarray:
        """Crops ``indices`` (B, H, W, 3) uint8, read with ``pread`` (no mapping that grows the RSS)."""
        h, w = self.crop_hw
        size = h * w * 3
        path = self.cache_dir / "crops.npy"
        if self._crop_offset is None:
            with path.open("rb") as fh:
                version = np.lib.format.read_magic(fh)
                reader = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                reader(fh)
                self._crop_offset = fh.tell()
        out = np.empty((len(indices), h, w, 3), np.uint8)
        fd = os.open(path, os.O_RDONLY)
        try:
            for k, i in enumerate(indices):
                if not 0 <= int(i) < self.n_frames:
                    raise IndexError(f"template frame {i} out of range 0..{self.n_frames - 1}")
                buf = os.pread(fd, size, self._crop_offset + int(i) * size)
                if len(buf) != size:
                    raise BadInput(f"template cache {self.cache_dir} is truncated; delete it to rebuild")
                out[k] = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        finally:
            os.close(fd)
        return out

    def reference_indices(self, seed: int = 456, k: int = 5) -> list[int]:
        """``k`` reference frames drawn reproducibly from frames with detected landmarks."""
        pool = np.flatnonzero(self.detected)
        if pool.size == 0:
            pool = np.arange(self.n_frames)
        rng = np.random.default_rng(seed)
        picks = rng.choice(pool, size=k, replace=pool.size < k)
        return [int(p) for p in picks]

    def iter_frames(self, order: Sequence[int], chunk_bytes: int = 256 << 20) -> Iterator[np.ndarray]:
        """Yield template frames in ``order`` (RGB uint8), streaming; memory bounded by ``chunk_bytes``."""
        from tfk.media import iter_frames

        order = [int(i) for i in order]
        frame_bytes = max(1, self.width * self.height * 3)
        chunk = max(8, chunk_bytes // frame_bytes)
        pos = 0
        while pos < len(order):
            # a maximal run of consecutive indices, ascending or descending
            end = pos + 1
            step = 0
            if end < len(order) and abs(order[end] - order[pos]) == 1:
                step = order[end] - order[pos]
                while end < len(order) and order[end] - order[end - 1] == step:
                    end += 1
            run = order[pos:end]
            if step >= 0:
                got = 0
                for frame in iter_frames(self.video, start=run[0], stop=run[-1] + 1):
                    yield frame
                    got += 1
                if got != len(run):
                    raise BadInput(f"template {self.source.name}: expected {len(run)} frames from {run[0]}, got {got}")
            else:
                hi = run[0] + 1  # descending run[0] > ... > run[-1]
                lo_end = run[-1]
                while hi > lo_end:
                    lo = max(lo_end, hi - chunk)
                    frames = list(iter_frames(self.video, start=lo, stop=hi))
                    if len(frames) != hi - lo:
                        raise BadInput(f"template {self.source.name}: frames {lo}..{hi - 1} could not be decoded")
                    yield from reversed(frames)
                    del frames
                    hi = lo
            pos = end


def _load(cache_dir: Path, source: Path, mouth: int, parity: bool) -> Template:
    meta = json.loads((cache_dir / "meta.json").read_text())
    video = cache_dir / "video25.mp4" if meta["normalised"] else source
    return Template(
        source=source,
        video=video,
        cache_dir=cache_dir,
        mouth=mouth,
        n_frames=int(meta["n_frames"]),
        width=int(meta["width"]),
        height=int(meta["height"]),
        matrices=np.load(cache_dir / "matrices.npy"),
        detected=np.load(cache_dir / "detected.npy"),
        parity=parity,
        face=meta.get("face"),
    )


def prepare_template(
    video: str | os.PathLike[str],
    mouth: int = 288,
    cache_root: str | os.PathLike[str] | None = None,
    landmarks: str = "dlib",
    smooth: float = 1.0,
    parity: bool = True,
    progress: Progress | None = None,
    refresh: bool = False,
    spill_bytes: int = 2 << 30,
    face: str | int | None = None,
) -> Template:
    """Preprocess (or load from the cache) a template video for ``mouth``-size inference.

    A cold template is decoded once: the landmark pass keeps the decoded frames in a temporary raw file
    (up to ``spill_bytes``; beyond that the crops take a second pass) and the crops are cut from it once
    the smoothed track is known. That pass also checks that the file decodes to its declared length.
    ``face`` picks the face when the template shows several (``largest`` by default, ``left``, ``right``
    or an index from the left; :mod:`tfk_lawdnet.faces`, surveyed on the first frames of the same pass);
    the choice and its reason are told on stderr.
    Raises :class:`~tfk.errors.NoFaceFound` when the template has no usable face.
    """
    from tfk.media import iter_frames, preflight
    from tfk_lawdnet.faces import parse_face

    source = Path(video).resolve()
    info = preflight(source, video=True, audio=False, decode=False)
    spec = parse_face(face)
    root = Path(cache_root) if cache_root is not None else template_cache_root()
    chosen = "" if spec is None else f"|f{spec}"
    key = hashlib.sha256(
        f"{_file_digest(source)}|m{mouth}|{landmarks}|s{smooth}|p{int(parity)}{chosen}|v{CACHE_VERSION}".encode()
    ).hexdigest()[:24]
    cache_dir = root / key
    if cache_dir.is_dir() and (cache_dir / "meta.json").is_file() and not refresh:
        return _announce(_load(cache_dir, source, mouth, parity))

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        normalised = not (info.fps and abs(float(info.fps) - 25.0) < 1e-3)
        frames_src = source
        if normalised:
            from tfk.media import normalize_video

            frames_src = normalize_video(source, tmp / "video25.mp4", fps=25, audio=False)
        from tfk_lawdnet.faces import survey

        h, w = crop_size(mouth)
        spill = _FrameSpill(tmp / "frames.raw", info, spill_bytes)
        frames = spill.tee(iter_frames(frames_src))
        seen: list[np.ndarray] = []  # the survey's frames go on to the tracker: one decoding pass
        choice, backend = survey(_recording(frames, seen), landmarks, spec)
        track = _track(itertools.chain(seen, frames), backend, smooth, progress, source)
        out_w = w
        mats = matrices_from_landmarks(track.points, out_w)
        n = len(track)
        _check_length(source, info, n, normalised)
        crops_fh = (tmp / "crops.npy").open("wb")  # streamed: no mapping of the whole array
        np.lib.format.write_array_header_1_0(
            crops_fh,
            {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": (n, h, w, 3)},
        )

        count = 0
        ctx = ensure(progress).task("lawdnet: template crops", total=n)
        task = ctx.__enter__()
        try:
            # the frames kept by the landmark pass (one decode for both), or a second pass when too big
            frames = spill.frames() if spill.complete else iter_frames(frames_src)
            for i, frame in enumerate(frames):
                if i >= n:
                    break
                crops_fh.write(np.ascontiguousarray(exact_crop(frame, mats[i], out_w, parity=parity)).tobytes())
                count += 1
                task.advance(1)
        finally:
            crops_fh.close()
            spill.remove()
            ctx.__exit__(None, None, None)
        if count != n:
            raise BadInput(f"template {source.name}: decoded {count} frames but tracked {n}")
        np.save(tmp / "matrices.npy", mats)
        np.save(tmp / "detected.npy", track.detected)
        np.save(tmp / "landmarks.npy", track.points)
        meta = {
            "version": CACHE_VERSION,
            "source": str(source),
            "normalised": normalised,
            "n_frames": n,
            "width": int(track.size[0]),
            "height": int(track.size[1]),
            "mouth": mouth,
            "landmarks": landmarks,
            "smooth": smooth,
            "parity": parity,
            "face": None if choice is None else dict(choice.as_dict(), note=choice.describe(source.name)),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if cache_dir.exists():
            shutil.rmtree(cache_dir, ignore_errors=True)
        try:
            os.replace(tmp, cache_dir)
        except OSError:  # another process finished the same template first
            if not (cache_dir / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _announce(_load(cache_dir, source, mouth, parity))


def _recording(frames: Iterator[np.ndarray], seen: list[np.ndarray]) -> Iterator[np.ndarray]:
    """``frames``, each also appended to ``seen``."""
    for frame in frames:
        seen.append(frame)
        yield frame


def _announce(tpl: Template) -> Template:
    """Say which face is dubbed, and why, when the template shows more than one."""
    if tpl.face and int(tpl.face.get("count", 1)) > 1:
        from tfk.console import info

        info(tpl.face["note"])
    return tpl


class _FrameSpill:
    """Frames passing through an iterator, kept in a raw temporary file while they fit in ``limit`` bytes."""

    def __init__(self, path: Path, info, limit: int):
        self.path = path
        self.shape: tuple[int, ...] | None = None
        self.count = 0
        n = int(info.n_frames or 0)
        frame = int(info.width or 0) * int(info.height or 0) * 3
        self.limit = limit
        self.enabled = n > 0 and frame > 0 and n * frame <= limit
        self.complete = False
        self._fh = None

    def tee(self, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        try:
            for frame in frames:
                if self.enabled:
                    if self._fh is None:
                        self.shape = frame.shape
                        self._fh = self.path.open("wb")
                    if frame.shape != self.shape or (self.count + 1) * frame.nbytes > self.limit:
                        self.enabled = False
                    else:
                        self._fh.write(np.ascontiguousarray(frame, np.uint8).tobytes())
                        self.count += 1
                yield frame
            self.complete = self.enabled and self._fh is not None
        finally:
            if self._fh is not None:
                self._fh.close()

    def frames(self) -> Iterator[np.ndarray]:
        assert self.shape is not None
        size = int(np.prod(self.shape))
        with self.path.open("rb") as fh:
            for _ in range(self.count):
                yield np.frombuffer(fh.read(size), np.uint8).reshape(self.shape)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _check_length(source: Path, info, n: int, normalised: bool) -> None:
    """The template decoded to (about) its declared length; else it is truncated (exit 65)."""
    from tfk.errors import TruncatedMedia

    declared = (info.video_duration or info.duration or 0.0) * 25.0 if normalised else float(info.n_frames or 0)
    if declared and declared - n > max(2.0, 0.01 * declared):
        raise TruncatedMedia(f"{source} is truncated: video decodes to {n} frames of a declared {declared:.0f}")


def _track(frames_src, backend: str, smooth: float, progress, source: Path):
    from tfk.face.tracking import track_landmarks

    try:
        return track_landmarks(frames_src, backend=backend, smooth=smooth, progress=progress)
    except NoFaceFound as exc:
        raise NoFaceFound(
            f"template {source.name}: {exc.message}",
            hint=exc.hint or "use a template video with one clearly visible, roughly frontal face",
            frames=exc.frames,
        ) from None
