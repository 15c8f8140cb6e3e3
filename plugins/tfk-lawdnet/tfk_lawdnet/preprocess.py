"""``tfk preprocess lawdnet VIDEO_OR_DIR --uid NAME`` and the ``train`` stage wiring.

Preprocessing writes the training layout of :mod:`tfk_lawdnet.train.data` (``tfk-lawdnet-train/1``) into
the workspace step ``dataset`` -- one resumable step, resumable *per clip*:

    dataset/index.json              written last: the clips that succeeded
    dataset/crops_<W>.lmdb/         JPEG frontalised crops, key ``<clip>/<frame:06d>``
    dataset/audio_<dp>/<clip>.npy   (T, 29) DeepSpeech logits at 25 fps (dp1 and/or dp2)
    dataset/landmarks/<clip>.npy    the landmark track (tfk.face format)
    dataset/clips/<clip>.json       per-clip status: ``ok`` (frames, features) or ``failed`` (the reason)

Per clip: 25 fps H.264 normalisation, 16 kHz mono audio, landmarks, features, crops (committed to the
LMDB in batches; a clip counts only once its status file says ``ok``). A clip that fails (no face,
no audio, undecodable) is recorded and skipped; an interrupted run resumes at the first unfinished clip.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tfk.errors import BadInput, InputNotFound, TfkError, UsageError

__all__ = ["VIDEO_SUFFIXES", "build_dataset", "find_clips", "preprocess", "train_stage"]

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".flv", ".mpg", ".mpeg"}
FORMAT = "tfk-lawdnet-train/1"
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


def _clip_names(clips: list[Path], root: Path | None) -> list[str]:
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


def _frontends(choice: str) -> list[str]:
    return {"dp1": ["dp1"], "dp2": ["dp2"], "both": ["dp1", "dp2"]}.get(choice) or _bad_frontend(choice)


def _bad_frontend(choice: str) -> list[str]:
    raise UsageError(f"--features must be dp1, dp2 or both, not {choice!r}")


def _process_clip(
    src: Path,
    name: str,
    out: Path,
    work: Path,
    env,
    runners: dict[str, Any],
    width: int,
    landmarks: str,
    smooth: float,
) -> dict[str, Any]:
    import cv2
    import numpy as np

    from tfk.face.tracking import track_landmarks
    from tfk.media import iter_frames, load_audio, normalize_video, preflight
    from tfk_lawdnet.crop import align_crop, matrices_from_landmarks

    preflight(src, video=True, audio=True)
    work.mkdir(parents=True, exist_ok=True)
    video = normalize_video(src, work / "video25.mp4", fps=25, audio=True)
    wav = load_audio(video, sr=16000)
    track = track_landmarks(video, backend=landmarks, smooth=smooth)
    feats = {dp: run(wav) for dp, run in runners.items()}
    mats = matrices_from_landmarks(track.points, width)
    n = 0
    batch: list[tuple[bytes, bytes]] = []

    def commit() -> None:
        with env.begin(write=True) as txn:
            for k, v in batch:
                txn.put(k, v)
        batch.clear()

    for i, frame in enumerate(iter_frames(video)):
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
    for dp, f in feats.items():
        d = out / f"audio_{dp}"
        d.mkdir(exist_ok=True)
        np.save(d / f"{name}.npy", f.astype(np.float32))
    (out / "landmarks").mkdir(exist_ok=True)
    track.save_npy(out / "landmarks" / f"{name}.npy")
    shutil.rmtree(work, ignore_errors=True)
    return {
        "status": "ok",
        "source": str(src),
        "n_frames": n,
        "feature_rows": {dp: int(f.shape[0]) for dp, f in feats.items()},
        "interpolated_frames": len(track.interpolated),
    }


def build_dataset(
    clips: list[Path],
    out: Path,
    frontends: list[str],
    weights: dict[str, Path],
    width: int = 360,
    landmarks: str = "dlib",
    smooth: float = 1.0,
    names: list[str] | None = None,
    device: str = "cpu",
    progress=None,
    log=None,
) -> dict[str, Any]:
    """Process ``clips`` into ``out`` (resuming: clips with a status file are skipped); write ``index.json``."""
    import lmdb

    from tfk_lawdnet.features import frontend_runner

    if width < 64 or width % 2:
        raise UsageError(f"--resolution must be an even crop width >= 64, got {width}")
    out.mkdir(parents=True, exist_ok=True)
    names = names or _clip_names(clips, None)
    status_dir = out / "clips"
    status_dir.mkdir(exist_ok=True)
    todo = [(c, n) for c, n in zip(clips, names, strict=True) if not (status_dir / f"{n}.json").is_file()]
    runners = {dp: frontend_runner(dp, weights[dp], device) for dp in frontends} if todo else {}
    env = lmdb.open(str(out / f"crops_{width}.lmdb"), map_size=1 << 38, subdir=True, writemap=False)
    task_cm = progress.task("lawdnet: clips", total=len(clips)) if progress is not None else None
    task = task_cm.__enter__() if task_cm is not None else None
    if task is not None and len(clips) > len(todo):
        task.advance(len(clips) - len(todo))
    try:
        for src, name in todo:
            try:
                rec = _process_clip(src, name, out, out / "work" / name, env, runners, width, landmarks, smooth)
            except TfkError as exc:
                rec = {"status": "failed", "source": str(src), "error": exc.message}
                if log is not None:
                    log.warning("skipping clip %s: %s", src.name, exc.message)
                shutil.rmtree(out / "work" / name, ignore_errors=True)
            (status_dir / f"{name}.json").write_text(json.dumps(rec, indent=1))
            if task is not None:
                task.advance(1)
    finally:
        env.sync()
        env.close()
        if task_cm is not None:
            task_cm.__exit__(None, None, None)
    shutil.rmtree(out / "work", ignore_errors=True)
    records = {n: json.loads((status_dir / f"{n}.json").read_text()) for n in names}
    ok = [{"name": n, "n_frames": r["n_frames"]} for n, r in records.items() if r["status"] == "ok"]
    failed = {r["source"]: r["error"] for r in records.values() if r["status"] != "ok"}
    if not ok:
        first = next(iter(failed.items()))
        raise BadInput(f"no usable clip: all {len(failed)} failed (e.g. {Path(first[0]).name}: {first[1]})")
    index = {"format": FORMAT, "crop_widths": [width], "frontends": list(frontends), "videos": ok, "failed": failed}
    tmp = out / "index.json.tmp"
    tmp.write_text(json.dumps(index, indent=1))
    tmp.replace(out / "index.json")
    return index


def preprocess(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """The ``tfk_preprocess`` hook body: a one-step resumable pipeline in ``ctx.workspace``."""
    from tfk.workspace import Pipeline, Step
    from tfk_lawdnet import artifacts as arts

    if ctx.workspace is None:
        raise UsageError("preprocess lawdnet needs --uid (or --workspace)")
    src = Path(options["input"])
    clips = find_clips(src)
    names = _clip_names(clips, src if src.is_dir() else None)
    frontends = _frontends(str(options.get("features") or "dp2"))
    width = int(options.get("resolution") or 360)
    landmarks = str(options.get("landmarks") or "dlib")
    smooth = float(options.get("smooth") if options.get("smooth") is not None else 1.0)
    weights = {dp: ctx.require(arts.FRONTEND_ARTIFACT[dp]) for dp in frontends}
    summary: dict[str, Any] = {}

    def step(sc) -> None:
        index = build_dataset(
            clips, sc.out, frontends, weights, width, landmarks, smooth, names, ctx.device, sc.progress, ctx.log
        )
        sc.info["clips"] = len(index["videos"])
        sc.info["failed"] = index["failed"]

    params = {"features": frontends, "width": width, "landmarks": landmarks, "smooth": smooth, "names": names}
    pipe = Pipeline(ctx.workspace, [Step("dataset", step, version="1", params=params, inputs=clips, resumable=True)])
    pipe.run(force=ctx.force, from_step=ctx.from_step, until_step=ctx.until_step, progress=ctx.progress)
    root = ctx.workspace.step_dir("dataset")
    index = json.loads((root / "index.json").read_text())
    summary.update(
        data_root=str(root),
        clips=len(index["videos"]),
        frames=sum(v["n_frames"] for v in index["videos"]),
        failed=index.get("failed", {}),
    )
    return summary


def train_stage(ctx, options: dict[str, Any]) -> Path:
    """The ``tfk_train`` hook body: train on the subject's preprocessed dataset."""
    from tfk_lawdnet.train import train

    if ctx.workspace is None:
        raise UsageError("train lawdnet needs --uid (or --workspace)")
    data_root = ctx.workspace.step_dir("dataset")
    if not (data_root / "index.json").is_file():
        raise InputNotFound(
            f"subject {ctx.workspace.uid} has no LawDNet training data",
            hint=f"tfk preprocess lawdnet VIDEO_OR_DIR --uid {ctx.workspace.uid}",
        )
    preset = str(options.get("preset") or "paper")
    out = Path(options["out"]) if options.get("out") else ctx.workspace.path("train", preset)
    stages = [s for s in (options.get("stage") or ()) if s] or None
    log_dir = ctx.run.dir / "tensorboard" if ctx.run is not None else out / "tensorboard"
    result = train(
        data_root,
        out,
        stages=stages,
        preset=preset,
        resume=bool(options.get("resume", True)),
        device=ctx.device,
        nproc=int(options.get("nproc_per_node") or 1),
        progress=ctx.progress,
        log_dir=log_dir,
    )
    if ctx.run is not None:
        ctx.run.record_output("generator", result)
    return Path(result)
