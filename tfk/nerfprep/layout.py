"""The ``dataset`` step: the original on-disk layout assembled from the step outputs, and ``model_data.json``.

ER-NeRF (``layout="ernerf"``), in ``<workspace>/steps/dataset/``::

    aud.wav  aud_ds.npy|aud_hu.npy|aud_eo.npy  ori_imgs/<i>.jpg  ori_imgs/<i>.lms  parsing/<i>.png
    parsing_label/<i>.png (BiSeNet only)  gt_imgs/<i>.jpg  torso_imgs/<i>.png (RGBA)  bc.jpg  au.csv
    track_params.pt  transforms_train.json  transforms_val.json  face_data.mp4  head_bbox.json
    input.mp4 + alpha.mp4 (when matted)  model_data.json

DFRF (``layout="dfrf"``), in ``<workspace>/steps/dataset/0/`` (one identity folder, as ``dataset/<id>/0/``)::

    aud.wav  aud.npy  ori_imgs/<i>.jpg  ori_imgs/<i>.lms  parsing/<i>.png  com_imgs/<i>.jpg  head_imgs/<i>.jpg
    torso_imgs/<i>.jpg  bc.jpg  track_params.pt  transforms_train.json  transforms_val.json  config.txt
    model_data.json

Files are hard links to the step outputs (copies across file systems). ``model_data.json`` is written last and
says what is missing (``complete`` false, ``skipped`` with reasons) when a step was skipped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from tfk.errors import BadInput, InputNotFound
from tfk.workspace.pipeline import DONE

DATASET = "dataset"
IDENTITY = "0"


def subject_dir(workspace) -> Path:
    """The folder holding the files of a preprocessed subject (ER-NeRF: the dataset step; DFRF: its ``0/``)."""
    root = workspace.step_dir(DATASET)
    if not (root / DONE).is_file():
        raise InputNotFound(
            f"subject '{workspace.uid}' has no preprocessed {workspace.model} data",
            hint=f"tfk preprocess {workspace.model} VIDEO --uid {workspace.uid}",
        )
    return root / IDENTITY if (root / IDENTITY / "model_data.json").is_file() else root


def read_model_data(workspace_or_dir) -> dict[str, Any]:
    """``model_data.json`` of a subject (a :class:`~tfk.workspace.Workspace` or a subject folder)."""
    d = subject_dir(workspace_or_dir) if hasattr(workspace_or_dir, "step_dir") else Path(workspace_or_dir)
    p = d / "model_data.json"
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise InputNotFound(f"{p} not found") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{p} is corrupt: {exc}") from None


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path, suffixes: tuple[str, ...] | None = None) -> int:
    n = 0
    for p in sorted(src.iterdir()):
        if p.is_file() and (suffixes is None or p.suffix in suffixes):
            _link(p, dst / p.name)
            n += 1
    return n


def _done_info(ws, name: str) -> dict[str, Any]:
    try:
        return json.loads((ws.step_dir(name) / DONE).read_text()).get("info", {})
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _count(d: Path, suffix: str) -> int:
    return sum(1 for p in d.glob(f"*{suffix}") if p.stem.isdigit()) if d.is_dir() else 0


def near_far(track_params: Path) -> tuple[float, float]:
    """AD-NeRF/DFRF ``near = mean_z - 0.2``, ``far = mean_z + 0.4`` with ``mean_z = -mean(trans_z) / 10``."""
    from tfk.tdmm.transforms import load_track_params

    p = load_track_params(track_params)
    mean_z = -float(p["trans"][:, 2].mean()) / 10.0
    return mean_z - 0.2, mean_z + 0.4


def dfrf_config(uid: str, datadir: Path, near: float, far: float) -> str:
    """DFRF's generated ``config.txt`` (configargparse ``key = value`` lines)."""
    lines = [
        f"expname = {uid}",
        f"expname_finetune = {uid}",
        f"datadir = {datadir}",
        "basedir = dataset/finetune_models",
        "ft_path = dataset/base_model/base.tar",
        f"near = {near}",
        f"far = {far}",
        "testskip = 1",
        "L2loss_weight = 5e-8",
        "train_length = 15",
        "bc_type = torso_imgs",
    ]
    return "\n".join(lines) + "\n"


def assemble(sc, ws, cfg, video: Path, track_names: list[str]) -> None:
    """Body of the ``dataset`` step (see the module docstring)."""
    from tfk.nerfprep.steps import check_references, skipped_reason

    root = sc.out / IDENTITY if cfg.layout == "dfrf" else sc.out
    root.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    for name in ("matting", "audio_features", *track_names):
        why = skipped_reason(sc.step_dir(name))
        if why:
            skipped[name] = why

    frames = sc.step_dir("frames") / "ori_imgs"
    n = _link_tree(frames, root / "ori_imgs", (".jpg",))
    if _link_tree(sc.step_dir("landmarks") / "ori_imgs", root / "ori_imgs", (".lms",)) != n:
        raise BadInput(f"landmark files do not match the {n} frames")
    _link_tree(sc.step_dir("parsing") / "parsing", root / "parsing")
    if cfg.layout == "ernerf" and (sc.step_dir("parsing") / "parsing_label").is_dir():
        _link_tree(sc.step_dir("parsing") / "parsing_label", root / "parsing_label")
    images = sc.step_dir("images")
    for sub in sorted(p.name for p in images.iterdir() if p.is_dir()):
        if _link_tree(images / sub, root / sub) != n:
            raise BadInput(f"{sub} does not hold one image per frame ({n})")
    _link(sc.step_dir("background") / "bc.jpg", root / "bc.jpg")
    _link(sc.step_dir("audio") / "aud.wav", root / "aud.wav")
    feat = _done_info(ws, "audio_features")
    feat_file = sc.step_dir("audio_features") / str(feat.get("file", ""))
    if "audio_features" not in skipped and feat_file.is_file():
        import numpy as np

        from tfk.nerfprep.features import check_rows

        arr = np.load(feat_file, mmap_mode="r")
        check_rows(arr, n, str(feat.get("kind")))
        feat["shape"] = list(arr.shape)
        feat["dim"] = int(arr.shape[-1])  # the network input width (audio_in_dim)
        _link(feat_file, root / feat_file.name)
    if cfg.layout == "ernerf":
        _link(sc.step_dir("blinks") / "au.csv", root / "au.csv")
        _link(sc.step_dir("head_video") / "face_data.mp4", root / "face_data.mp4")
        _link(sc.step_dir("head_region") / "head_bbox.json", root / "head_bbox.json")
        for f in ("input.mp4", "alpha.mp4"):
            if (sc.step_dir("matting") / f).is_file():
                _link(sc.step_dir("matting") / f, root / f)

    near = far = None
    split: dict[str, Any] = {"train_fraction": str(cfg.split)}
    if "track_write" in track_names:
        out = sc.step_dir("track_write")
        for f in ("track_params.pt", "transforms_train.json", "transforms_val.json"):
            _link(out / f, root / f)
        near, far = near_far(root / "track_params.pt")
        ids = {}
        for part in ("train", "val"):
            doc = json.loads((root / f"transforms_{part}.json").read_text())
            ids[part] = [int(f["img_id"]) for f in doc["frames"]]
        if sorted(set(ids["train"]) | set(ids["val"])) != list(range(n)):
            raise BadInput(f"transforms json frames do not cover the {n} frames")
        split.update(train=len(ids["train"]), val=len(ids["val"]))
    refs = check_references(cfg, n) if cfg.layout == "dfrf" else None
    if cfg.layout == "dfrf" and near is not None:
        (root / "config.txt").write_text(dfrf_config(ws.uid, ws.step_dir(DATASET), near, far))

    norm, region, hv = _done_info(ws, "normalize"), _done_info(ws, "head_region"), _done_info(ws, "head_video")
    parsing, blinks = _done_info(ws, "parsing"), _done_info(ws, "blinks")
    dim = feat.get("dim") if "audio_features" not in skipped else None
    doc: dict[str, Any] = {
        "format": "tfk-nerfprep/1",
        "model_name": cfg.layout,
        "uid": ws.uid,
        "layout": cfg.layout,
        "data_dir": str(ws.step_dir(DATASET) / root.relative_to(sc.out)),
        "source_video": str(video),
        "complete": not skipped,
        "skipped": skipped,
        "video_file": "input.mp4" if "matting" not in skipped else None,
        "alpha_file": "alpha.mp4" if "matting" not in skipped else None,
        "head_video_file": "face_data.mp4" if cfg.layout == "ernerf" else None,
        "audio_file": "aud.wav",
        "sample_rate": 16000,
        "fps": cfg.fps,
        "frame_count": n,
        "frame_height": cfg.head_size,
        "frame_width": cfg.head_size,
        "source_frame_width": norm.get("width"),
        "source_frame_height": norm.get("height"),
        "head_region": region.get("head_bbox"),
        "head_region_used_as_is": region.get("used_as_is"),
        "head_size": cfg.head_size,
        "background_trt": list(cfg.background) if "matting" not in skipped else None,
        "matting": {
            "method": "rvm_mobilenetv3" if "matting" not in skipped else None,
            "skipped": skipped.get("matting"),
        },
        "audio_features": {**feat, "skipped": skipped.get("audio_features")},
        "nerf_structure": {
            "audio_in_dim": dim,
            "audio_out_dim": 32,
            "ind_num": 10000 if n < 5 * 60 * cfg.fps else 20000,
        },
        "parsing": {"quality": parsing.get("quality"), "method": parsing.get("method")},
        "landmarks": _done_info(ws, "landmarks").get("backend"),
        "blinks": blinks or None,
        "tracking": {"mode": cfg.tracking, "focal": cfg.focal, "skipped": skipped.get("track")},
        "split": split,
        "near": near,
        "far": far,
        "references": list(refs) if refs else None,
        "head_video_frames": hv.get("frames"),
    }
    from tfk.fsutil import atomic_write_json

    atomic_write_json(root / "model_data.json", doc)
    sc.info.update(complete=doc["complete"], skipped_steps=skipped, frames=n, data_dir=doc["data_dir"])
