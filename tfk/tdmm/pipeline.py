"""The AD-NeRF tracker as resumable workspace steps (:mod:`tfk.workspace.pipeline`).

:func:`tracking_steps` returns ``track_focal -> track_landmarks -> track_smooth [-> track_light ->
track_photometric] -> track_write [-> track_debug]``. Each step reads its upstream step's directory
(``sc.step_dir``) and writes one file into ``sc.out`` (see :mod:`tfk.tdmm.tracker` for what each stage does);
``track_write`` publishes ``track_params.pt``, ``transforms_train.json`` and ``transforms_val.json``. Each step's
params hold only the settings it depends on, so changing e.g. ``smooth_iters`` re-runs smoothing and what follows
while the focal search and the landmark fit stay cached. Append the steps after the caller's own (for instance a
landmark-detection step named by ``landmarks_step``) in one :class:`~tfk.workspace.Pipeline`.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

from tfk.errors import BadInput, UsageError
from tfk.workspace.pipeline import Step, StepContext

_COMMON = (
    "id_dim",
    "exp_dim",
    "tex_dim",
    "seed",
    "contour_softness",
    "iters_scale",
    "lbfgs_iters",
    "polish",
    "init_tz",
)
_FIELDS = {
    "track_focal": (
        "focal",
        "focal_candidates",
        "focal_refine",
        "focal_refine_iters",
        "focal_criterion",
        "focal_frame_step",
        "focal_pose_iters",
        "focal_full_iters",
    ),
    "track_landmarks": (
        "focal",
        "coarse_pose_iters",
        "coarse_full_iters",
        "joint_iters",
        "joint_softness",
        "landmark_sigma",
    ),
    "track_smooth": ("smooth_iters", "smooth_lr", "lap_weight"),
    "track_light": ("light_iters", "batch_size", "photo_scale"),
    "track_photometric": ("fine_iters", "batch_size", "context_frames", "lap_weight", "photo_scale"),
}
LANDMARK_FILES = ("landmarks.npy",)  #: what a landmarks step may publish (else ``<i>.lms`` files)


def _find_landmarks(d: Path) -> Path:
    for name in LANDMARK_FILES:
        if (d / name).is_file():
            return d / name
    if any(d.glob("*.lms")):
        return d
    if (d / "ori_imgs").is_dir() and any((d / "ori_imgs").glob("*.lms")):
        return d / "ori_imgs"
    raise BadInput(f"{d}: no landmarks.npy or <index>.lms files")


def tracking_steps(
    video: str | os.PathLike[str],
    landmarks_step: str | None,
    model_path_or_none: str | os.PathLike[str] | None = None,
    mode: str = "full",
    split: float | Fraction = Fraction(10, 11),
    device: str | None = "cpu",
    config=None,
    *,
    landmarks: str | os.PathLike[str] | None = None,
    debug: bool = False,
    debug_mp4: bool = True,
) -> list[Step]:
    """Tracking stages as :class:`~tfk.workspace.Step` s.

    ``video``: the clip (video file, directory of ``<i>.jpg`` or ``.npy`` array of frames) - its size is used by
    every stage and its frames by the photometric ones. Landmarks come from the upstream step ``landmarks_step``
    (its directory holds ``landmarks.npy`` or ``<i>.lms`` files) or, without one, from the file/directory
    ``landmarks``. ``model_path_or_none``: ``adnerf_3dmm.npz`` or ``None`` for the imported BFM. ``mode``:
    ``"full"`` (photometric stages) or ``"landmarks"``. ``split``: train fraction (``10/11`` ER-NeRF, ``0.5`` DFRF).
    ``device`` is not part of the fingerprints. ``config``: a :class:`~tfk.tdmm.tracker.TrackerConfig`.
    """
    from tfk.tdmm.tracker import TrackerConfig

    if mode not in ("full", "landmarks"):
        raise UsageError(f"tracking mode must be 'full' or 'landmarks', not {mode!r}")
    if landmarks_step is None and landmarks is None:
        raise UsageError("tracking needs a landmarks step or a landmarks file")
    cfg = config or TrackerConfig()
    conf = asdict(cfg)
    video = Path(video)
    model_path = Path(model_path_or_none) if model_path_or_none is not None else None
    lm_path = Path(landmarks) if landmarks is not None else None
    split = Fraction(split).limit_denominator(10_000)
    base_inputs: list[Path] = [video] if video.is_file() else []
    base_inputs += [p for p in (model_path, lm_path) if p is not None]
    common = {k: conf[k] for k in _COMMON} | {"model": str(model_path) if model_path else "shared/bfm2009"}

    def params(name: str) -> dict[str, Any]:
        return common | {k: conf[k] for k in _FIELDS.get(name, ())}

    state: dict[str, Any] = {}

    def setup(sc: StepContext):
        """(landmarks, model, frame source, size), loaded once per process."""
        import torch

        from tfk.tdmm.frames import load_landmarks
        from tfk.tdmm.model import FaceModel
        from tfk.tdmm.tracker import resolve_device

        torch.manual_seed(cfg.seed)
        src = _find_landmarks(sc.step_dir(landmarks_step)) if landmarks_step is not None else lm_path
        st = Path(src).stat()
        key = (str(src), st.st_mtime_ns, st.st_size)  # a re-run landmark step publishes a new file
        if state.get("key") != key:
            lms = load_landmarks(src)
            frames = _frames(video)
            if len(frames) != len(lms):
                raise BadInput(f"{len(frames)} frames but {len(lms)} landmark frames")
            state.update(key=key, lms=lms, frames=frames)
        if "model" not in state:
            mp = model_path
            if mp is None:
                from tfk.tdmm.bfm import adnerf_model_path

                mp = adnerf_model_path()
            state["model"] = FaceModel.load(mp, cfg.id_dim, cfg.exp_dim, cfg.tex_dim).to(resolve_device(device))
        return state["lms"], state["model"], state["frames"], state["frames"].size

    def run_focal(sc: StepContext) -> None:
        from tfk.tdmm import tracker

        lms, model, _, size = setup(sc)
        tracker.stage_focal(sc.out, lms, model, size, cfg, sc.progress)

    def chained(stage: str, upstream: str, needs_frames: bool):
        def fn(sc: StepContext) -> None:
            from tfk.tdmm import tracker

            lms, model, frames, size = setup(sc)
            fun = getattr(tracker, stage)  # looked up at run time (tests patch the stages)
            src = sc.step_dir(upstream)
            if needs_frames:
                fun(sc.out, frames, lms, model, size, cfg, sc.progress, src=src)
            else:
                fun(sc.out, lms, model, size, cfg, sc.progress, src=src)

        return fn

    last = "track_photometric" if mode == "full" else "track_smooth"

    def run_write(sc: StepContext) -> None:
        from tfk.tdmm import tracker

        lms, _, _, size = setup(sc)
        paths = tracker.stage_write(sc.step_dir(last), sc.out, lms, size, mode, split)
        sc.info["files"] = sorted(p.name for p in paths.values())

    def run_debug(sc: StepContext) -> None:
        from tfk.tdmm import tracker

        _, model, frames, _ = setup(sc)
        tracker.stage_debug(sc.step_dir(last), sc.out, frames, model, mode, debug_mp4, sc.progress)

    steps = [
        Step("track_focal", run_focal, "1", params("track_focal"), base_inputs, description="focal search"),
        Step(
            "track_landmarks",
            chained("stage_landmarks", "track_focal", False),
            "1",
            params("track_landmarks"),
            base_inputs,
            description="landmark fit + joint focal/identity/pose refinement",
        ),
        Step(
            "track_smooth",
            chained("stage_smooth", "track_landmarks", False),
            "1",
            params("track_smooth"),
            base_inputs,
            description="temporal smoothing",
        ),
    ]
    frame_inputs = [video, *base_inputs[1:]] if not video.is_file() else base_inputs
    if mode == "full":
        steps += [
            Step(
                "track_light",
                chained("stage_light", "track_smooth", True),
                "1",
                params("track_light"),
                frame_inputs,
                description="texture and lighting",
            ),
            Step(
                "track_photometric",
                chained("stage_photometric", "track_light", True),
                "1",
                params("track_photometric"),
                frame_inputs,
                description="photometric refinement",
            ),
        ]
    steps.append(
        Step(
            "track_write",
            run_write,
            "1",
            common | {"mode": mode, "split": str(split)},
            base_inputs,
            description="track_params.pt, transforms_train.json, transforms_val.json",
        )
    )
    if debug:
        steps.append(
            Step(
                "track_debug",
                run_debug,
                "1",
                common | {"mode": mode, "mp4": debug_mp4},
                frame_inputs,
                description="debug renders",
            )
        )
    return steps


def _frames(video: Path):
    """A :class:`~tfk.tdmm.frames.FrameSource` for a video, a frame directory or a ``.npy`` frame array."""
    from tfk.tdmm.frames import FrameSource

    if video.suffix == ".npy" and video.is_file():
        import numpy as np

        return FrameSource(np.load(video, mmap_mode="r", allow_pickle=False))
    return FrameSource(video)
