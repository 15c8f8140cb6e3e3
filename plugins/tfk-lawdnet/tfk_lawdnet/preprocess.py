"""``tfk preprocess lawdnet VIDEO_OR_DIR --uid NAME``: a :class:`~tfk.workspace.Pipeline` of four steps.

Each step is resumable *per clip* and shows in ``tfk status lawdnet --uid NAME``:

    normalize/videos/<clip>.mp4        25 fps H.264 with the clip's audio
    landmarks/landmarks/<clip>.npy     the landmark track (tfk.face format)
    features/audio_<dp>/<clip>.npy     (T, 29) DeepSpeech logits at 25 fps (dp1 and/or dp2)
    dataset/crops_<W>.lmdb/            JPEG frontalised crops, key ``<clip>/<frame:06d>``
    dataset/index.json                 written last: the clips that succeeded (``audio_root: ../features``)

Every step keeps ``clips/<clip>.json`` (written atomically): ``ok`` (what was made) or ``failed`` (the
reason). A clip that fails (no face, no audio, undecodable) is recorded and skipped by the later steps; an
unreadable record counts as "not done" and the clip is redone; an interrupted run resumes at the first
clip without a record. ``dataset/`` is the training layout of :mod:`tfk_lawdnet.train.data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tfk.errors import BadInput, InputNotFound, UsageError
from tfk.fsutil import atomic_path, atomic_write_json, disk_errors
from tfk.progress import ensure

__all__ = ["STEPS", "VIDEO_SUFFIXES", "find_clips", "preprocess", "read_record"]

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".flv", ".mpg", ".mpeg"}
FORMAT = "tfk-lawdnet-train/1"
STEPS = ("normalize", "landmarks", "features", "dataset")
FRONTEND_CHOICES = {"dp1": ["dp1"], "dp2": ["dp2"], "both": ["dp1", "dp2"]}
_COMMIT_EVERY = 100


def find_clips(path: str | Path) -> list[Path]:
    """A video, or every video file directly or recursively under a directory (sorted)."""
    p = Path(path)
    if not p.exists():
        raise InputNotFound(f"input not found: {p}")
    if p.is_file():
        return [p]
    clips = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in VIDEO_SUFFIXES)
    if not clips:
        raise BadInput(f"{p} contains no video files ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return clips


def clip_names(clips: list[Path], root: Path | None) -> list[str]:
    """Unique, path-safe names: ``sub/b.mp4`` under ``root`` -> ``sub__b``."""
    names: list[str] = []
    seen: set[str] = set()
    for c in clips:
        rel = c.relative_to(root).with_suffix("") if root is not None else Path(c.stem)
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(rel.parts)) or "clip"
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


# -------------------------------------------------------------------------------------------- records
def read_record(path: Path) -> dict[str, Any] | None:
    """A clip record, or ``None`` when it is missing or unreadable (then the clip is simply redone)."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("status") not in ("ok", "failed"):
        return None
    return rec


def _for_each_clip(
    sc: Any,
    clips: dict[str, Path],
    work: Callable[[str, Path], dict[str, Any]],
    upstream: str | None,
    log: Any = None,
    prepare: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``work(name, src)`` for each clip without a record in ``sc.out/clips``; return every record.

    A clip that failed upstream is recorded as failed with the same reason; a :class:`BadInput` from
    ``work`` is the clip's failure; anything else (interruption, disk full, a bug) stops the step and the
    clip is redone next time. ``prepare()`` runs once, only when some clip has work to do.
    """
    status_dir = sc.out / "clips"
    status_dir.mkdir(parents=True, exist_ok=True)
    up_dir = sc.step_dir(upstream) / "clips" if upstream else None
    records: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, Path]] = []
    for name, src in clips.items():
        rec = read_record(status_dir / f"{name}.json")
        if rec is None and up_dir is not None:
            up = read_record(up_dir / f"{name}.json")
            if up is None or up["status"] != "ok":
                reason = up["error"] if up else f"step {upstream} has no record of it"
                rec = {"status": "failed", "source": str(src), "error": reason}
                atomic_write_json(status_dir / f"{name}.json", rec)
        if rec is None:
            todo.append((name, src))
        else:
            records[name] = rec
    if todo and prepare is not None:
        prepare()
    task_cm = ensure(sc.progress).task(f"lawdnet: {sc.name}", total=len(todo))
    task = task_cm.__enter__()
    try:
        for name, src in todo:
            try:
                rec = {"status": "ok", "source": str(src), **work(name, src)}
            except BadInput as exc:
                rec = {"status": "failed", "source": str(src), "error": exc.message}
                if log is not None:
                    log.warning("skipping clip %s: %s", src.name, exc.message)
            atomic_write_json(status_dir / f"{name}.json", rec)
            records[name] = rec
            task.advance(1)
    finally:
        task_cm.__exit__(None, None, None)
    sc.info["ok"] = sum(r["status"] == "ok" for r in records.values())
    sc.info["failed"] = {r["source"]: r["error"] for r in records.values() if r["status"] != "ok"}
    return records


# -------------------------------------------------------------------------------------------- steps
def normalize_step(sc: Any, clips: dict[str, Path], log: Any = None) -> None:
    """Each clip re-timed to 25 fps H.264 with its audio (``videos/<clip>.mp4``)."""
    from tfk.media import normalize_video, preflight

    def work(name: str, src: Path) -> dict[str, Any]:
        info = preflight(src, video=True, audio=True)
        normalize_video(src, sc.out / "videos" / f"{name}.mp4", fps=25, audio=True)
        return {"fps": info.fps}

    _for_each_clip(sc, clips, work, None, log)


def landmarks_step(sc: Any, clips: dict[str, Path], backend: str, smooth: float, log: Any = None) -> None:
    """The landmark track of each normalised clip (``landmarks/<clip>.npy``)."""
    from tfk.face.tracking import track_landmarks

    videos = sc.step_dir("normalize") / "videos"

    def work(name: str, src: Path) -> dict[str, Any]:
        track = track_landmarks(videos / f"{name}.mp4", backend=backend, smooth=smooth)
        track.save_npy(sc.out / "landmarks" / f"{name}.npy")
        return {"n_frames": len(track), "interpolated_frames": len(track.interpolated)}

    _for_each_clip(sc, clips, work, "normalize", log)


def features_step(
    sc: Any, clips: dict[str, Path], frontends: list[str], weights: dict[str, Path], device: str, log: Any = None
) -> None:
    """DeepSpeech features of each clip's audio, one file per front-end (``audio_<dp>/<clip>.npy``)."""
    import numpy as np

    from tfk.media import load_audio
    from tfk_lawdnet.features import frontend_runner

    videos = sc.step_dir("normalize") / "videos"
    runners: dict[str, Any] = {}

    def prepare() -> None:  # the networks load only when a clip needs them
        runners.update({dp: frontend_runner(dp, weights[dp], device) for dp in frontends})

    def work(name: str, src: Path) -> dict[str, Any]:
        wav = load_audio(videos / f"{name}.mp4", sr=16000)
        rows = {}
        for dp, run in runners.items():
            feats = run(wav).astype(np.float32)
            with atomic_path(sc.out / f"audio_{dp}" / f"{name}.npy") as tmp, tmp.open("wb") as fh:
                np.save(fh, feats)
            rows[dp] = int(feats.shape[0])
        return {"feature_rows": rows}

    _for_each_clip(sc, clips, work, "landmarks", log, prepare=prepare)


def dataset_step(sc: Any, clips: dict[str, Path], width: int, frontends: list[str], log: Any = None) -> None:
    """Frontalised JPEG crops into ``crops_<W>.lmdb`` and ``index.json`` (the training layout)."""
    import cv2
    import lmdb

    from tfk.face.track import LandmarkTrack
    from tfk.media import iter_frames
    from tfk_lawdnet.crop import align_crop, matrices_from_landmarks

    videos = sc.step_dir("normalize") / "videos"
    lms = sc.step_dir("landmarks") / "landmarks"
    env = lmdb.open(str(sc.out / f"crops_{width}.lmdb"), map_size=1 << 38, subdir=True, writemap=False)

    def work(name: str, src: Path) -> dict[str, Any]:
        mats = matrices_from_landmarks(LandmarkTrack.load_npy(lms / f"{name}.npy").points, width)
        batch: list[tuple[bytes, bytes]] = []

        def commit() -> None:
            with disk_errors(sc.out / f"crops_{width}.lmdb"), env.begin(write=True) as txn:
                for k, v in batch:
                    txn.put(k, v)
            batch.clear()

        n = 0
        for i, frame in enumerate(iter_frames(videos / f"{name}.mp4")):
            if i >= len(mats):
                break
            crop = align_crop(frame, mats[i], width)
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise BadInput(f"{src.name}: JPEG encoding of frame {i} failed")
            batch.append((f"{name}/{i:06d}".encode(), buf.tobytes()))
            n += 1
            if len(batch) >= _COMMIT_EVERY:
                commit()
        commit()
        if n < 9:
            raise BadInput(f"{src.name}: {n} frames, a training clip needs at least 9")
        return {"n_frames": n}

    try:
        records = _for_each_clip(sc, clips, work, "features", log)
    finally:
        env.sync()
        env.close()
    ok = [{"name": n, "n_frames": r["n_frames"]} for n, r in records.items() if r["status"] == "ok"]
    failed = {r["source"]: r["error"] for r in records.values() if r["status"] != "ok"}
    if not ok:
        first = next(iter(failed.items()))
        raise BadInput(f"no usable clip: all {len(failed)} failed (e.g. {Path(first[0]).name}: {first[1]})")
    index = {
        "format": FORMAT,
        "crop_widths": [width],
        "frontends": list(frontends),
        "audio_root": "../features",
        "videos": ok,
        "failed": failed,
    }
    atomic_write_json(sc.out / "index.json", index)
    sc.info["clips"] = len(ok)


# -------------------------------------------------------------------------------------------- the stage
def preprocess(ctx: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The ``tfk_preprocess`` hook body: run (or resume) the four steps in ``ctx.workspace``."""
    from tfk.workspace import Pipeline, Step
    from tfk_lawdnet import artifacts as arts

    if ctx.workspace is None:
        raise UsageError("preprocess lawdnet needs --uid (or --workspace)")
    src = Path(options["input"])
    found = find_clips(src)
    clips = dict(zip(clip_names(found, src if src.is_dir() else None), found, strict=True))
    frontends = FRONTEND_CHOICES[options["features"]]
    width, backend, smooth = options["resolution"], options["landmarks"], options["smooth"]
    weights = {dp: ctx.require(arts.FRONTEND_ARTIFACT[dp]) for dp in frontends}
    names = list(clips)
    log = ctx.log
    steps = [
        Step(
            "normalize",
            lambda sc: normalize_step(sc, clips, log),
            "1",
            {"names": names},
            inputs=found,
            resumable=True,
            description="25 fps H.264 with audio, per clip",
        ),
        Step(
            "landmarks",
            lambda sc: landmarks_step(sc, clips, backend, smooth, log),
            "1",
            {"landmarks": backend, "smooth": smooth},
            resumable=True,
            description="68-point landmark tracks",
        ),
        Step(
            "features",
            lambda sc: features_step(sc, clips, frontends, weights, ctx.device, log),
            "1",
            {"features": frontends},
            resumable=True,
            description="DeepSpeech features at 25 fps",
        ),
        Step(
            "dataset",
            lambda sc: dataset_step(sc, clips, width, frontends, log),
            "1",
            {"width": width},
            resumable=True,
            description="frontalised crops (LMDB) and index.json",
        ),
    ]
    Pipeline(ctx.workspace, steps).run(
        force=ctx.force, from_step=ctx.from_step, until_step=ctx.until_step, progress=ctx.progress
    )
    root = ctx.workspace.step_dir("dataset")
    if not (root / "index.json").is_file():  # --until stopped before the last step
        return {"steps_done": [s.name for s in Pipeline(ctx.workspace, steps).status() if s.state == "done"]}
    index = json.loads((root / "index.json").read_text())
    return {
        "data_root": str(root),
        "clips": len(index["videos"]),
        "frames": sum(v["n_frames"] for v in index["videos"]),
        "failed": index.get("failed", {}),
    }
