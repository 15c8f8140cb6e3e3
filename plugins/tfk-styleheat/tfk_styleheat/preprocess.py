"""``tfk preprocess styleheat VIDEO_DIR``: training clips into the original lmdb layouts of both stages.

Vox layout (stage ``warper``; PIRender ``prepare_vox_lmdb.py``), env ``{out}/vox/256``:
``length`` (video count), ``{v}-length`` (frames), ``{v}-{i:07d}`` (JPEG, 256²), ``{v}-coeff_3dmm`` (float32
``N×260`` = Deep3D 257 + [s, t0, t1]), ``{v}-keypoint`` (float32 ``N×68×2``); ints are 7-digit ASCII.
HDTF layout (stage ``full``; StyleHEAT ``data/video_dataset.py``), env ``{out}/hdtf/512``: the same keys with 512²
frames, plus ``{v}-align-{i:07d}`` (per-frame FFHQ-aligned 512², the inversion input; no released script
writes them, so this port aligns each frame with its own landmarks) and keypoints at 256-px scale.
Beside each env: ``train_list.txt`` / ``test_list.txt`` (video names; split by a ``train/``/``test/`` folder when
present, else by person id = text before the first ``#``).

Frames are cropped with the FFHQ quad of frame 0 (the inference crop); coefficients are computed on the 256²
crops. Each video is committed in one transaction with its ``-length`` key last, so an interrupted run resumes
at the first unfinished video.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tfk.errors import BadInput, UsageError

__all__ = ["coeff_to_semantics", "key", "preprocess", "preprocess_stage", "read_video"]

MAP_SIZE = 1 << 40
LAYOUTS = {"vox": 256, "hdtf": 512}


def key(*parts: object) -> bytes:
    """PIRender ``format_for_lmdb``: ints zero-padded to 7 digits, parts joined by ``-``."""
    return "-".join(f"{p:07d}" if isinstance(p, int) else str(p) for p in parts).encode()


def coeff_to_semantics(coeff: np.ndarray) -> np.ndarray:
    """``N×260`` -> ``N×73`` (PIRender ``transform_semantic``: exp, angle, trans, crop)."""
    c = np.asarray(coeff, np.float32)
    return np.concatenate((c[:, 80:144], c[:, 224:227], c[:, 254:257], c[:, 257:260]), 1)


def _jpeg(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise BadInput("JPEG encoding failed")
    return buf.tobytes()


def _person(name: str) -> str:
    return name.split("#", 1)[0]


def _split(videos: list[Path], root: Path, test_fraction: float) -> tuple[list[str], list[str]]:
    names = [v.stem for v in videos]
    rel = [v.relative_to(root).parts for v in videos]
    if any("train" in r[:-1] for r in rel) or any("test" in r[:-1] for r in rel):
        train = [n for n, r in zip(names, rel, strict=True) if "test" not in r[:-1]]
        return train, [n for n in names if n not in train]
    persons = sorted({_person(n) for n in names})
    n_test = round(len(persons) * test_fraction) if len(persons) > 1 else 0
    test_p = set(persons[len(persons) - n_test :])
    return [n for n in names if _person(n) not in test_p], [n for n in names if _person(n) in test_p]


def _video_items(path: Path, ex, size: int, hdtf: bool, frame_limit: int | None):
    """Per-frame (crop JPEG, aligned JPEG|None), coeff [N,260], keypoints [N,68,2] at 256 scale."""
    import cv2

    from tfk.face.align import align_ffhq, transform_points
    from tfk.face.tracking import track_landmarks
    from tfk.media.frames import iter_frames

    track = track_landmarks(iter_frames(path, stop=frame_limit))
    lm0 = track.points[0]
    jpgs, aligns, crops256, lms256 = [], [], [], []
    for i, frame in enumerate(iter_frames(path, stop=frame_limit)):
        if i >= len(track.points):
            break
        crop, m = align_ffhq(frame, lm0, size=size)
        lm = transform_points(m, track.points[i]) * (256 / size)
        jpgs.append(_jpeg(crop))
        if hdtf:
            aligns.append(_jpeg(align_ffhq(frame, track.points[i], size=size)[0]))
        c256 = crop if size == 256 else cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA)
        crops256.append(c256)
        lms256.append(lm)
    coeffs, tps = [], []
    for s in range(0, len(crops256), 16):
        c, tp = ex.coeffs(crops256[s : s + 16], lms256[s : s + 16])
        coeffs.append(c)
        tps.append(tp)
    coeff = np.concatenate((np.concatenate(coeffs), np.concatenate(tps)[:, 2:5]), 1).astype(np.float32)
    return jpgs, aligns, coeff, np.stack(lms256).astype(np.float32)


def preprocess(
    video_dir: Path,
    out_dir: Path,
    layouts: tuple[str, ...] = ("vox", "hdtf"),
    require: Callable[[str], Path] | None = None,
    device: str = "cpu",
    test_fraction: float = 0.1,
    frame_limit: int | None = None,
    extractor: Any = None,
    progress=None,
) -> dict[str, Path]:
    """Write the lmdb(s) for every ``*.mp4`` under ``video_dir``; returns ``{layout: env_dir}``."""
    import lmdb

    from tfk_styleheat.inputs import SemanticsExtractor

    video_dir = Path(video_dir)
    videos = sorted(p for p in video_dir.rglob("*.mp4") if not p.name.startswith("."))
    if not videos:
        raise BadInput(f"{video_dir}: no *.mp4 clips found")
    if len({v.stem for v in videos}) != len(videos):
        raise BadInput(f"{video_dir}: clip names must be unique (they are the lmdb keys)")
    if require is None:
        from tfk.weights import require as _require

        require = _require
    ex = extractor or SemanticsExtractor(require, device)
    train, test = _split(videos, video_dir, test_fraction)
    out: dict[str, Path] = {}
    for layout in layouts:
        if layout not in LAYOUTS:
            raise UsageError(f"unknown lmdb layout {layout!r} (vox or hdtf)")
        size = LAYOUTS[layout]
        root = Path(out_dir) / layout
        env_dir = root / str(size)
        env_dir.mkdir(parents=True, exist_ok=True)
        env = lmdb.open(str(env_dir), map_size=MAP_SIZE)
        task = progress.task(f"styleheat: lmdb {layout}", total=len(videos)) if progress is not None else None
        handle = task.__enter__() if task is not None else None
        try:
            for v in videos:
                with env.begin() as txn:
                    done = txn.get(key(v.stem, "length")) is not None
                if not done:
                    jpgs, aligns, coeff, kp = _video_items(v, ex, size, layout == "hdtf", frame_limit)
                    with env.begin(write=True) as txn:
                        for i, j in enumerate(jpgs):
                            txn.put(key(v.stem, i), j)
                        for i, j in enumerate(aligns):
                            txn.put(key(v.stem, "align", i), j)
                        txn.put(key(v.stem, "coeff_3dmm"), coeff.tobytes())
                        txn.put(key(v.stem, "keypoint"), kp.tobytes())
                        txn.put(key(v.stem, "length"), key(len(jpgs)))
                if handle is not None:
                    handle.advance(1)
            with env.begin(write=True) as txn:
                txn.put(b"length", key(len(videos)))
        finally:
            env.close()
            if task is not None:
                task.__exit__(None, None, None)
        for name, items in (("train_list.txt", train), ("test_list.txt", test)):
            tmp = root / f".{name}.{os.getpid()}.tmp"
            tmp.write_text("".join(f"{n}\n" for n in items))
            os.replace(tmp, root / name)
        out[layout] = env_dir
    return out


def read_video(env, name: str) -> dict[str, Any]:
    """Read one video's length, coefficients ``[N,260]`` and keypoints ``[N,68,2]`` from an open env."""
    with env.begin() as txn:
        raw = txn.get(key(name, "length"))
        if raw is None:
            raise BadInput(f"video {name!r} is not in the lmdb")
        n = int(raw.decode())
        coeff = np.frombuffer(txn.get(key(name, "coeff_3dmm")), np.float32).reshape(n, 260)
        kp = np.frombuffer(txn.get(key(name, "keypoint")), np.float32).reshape(n, 68, 2)
    return {"length": n, "coeff_3dmm": coeff, "keypoint": kp}


def preprocess_stage(ctx, options: dict[str, Any]) -> dict[str, Path]:
    stage = options["stage"]
    layouts = ("vox", "hdtf") if stage == "both" else (stage,)
    base = ctx.workspace.root if ctx.workspace is not None else Path.cwd() / "styleheat_data"
    out = preprocess(
        options["input"],
        Path(base) / "lmdb",
        layouts,
        ctx.require,
        ctx.device,
        options["test_fraction"],
        progress=ctx.progress,
    )
    if ctx.run is not None:
        for name, p in out.items():
            ctx.run.record_output(f"lmdb_{name}", p)
    return out
