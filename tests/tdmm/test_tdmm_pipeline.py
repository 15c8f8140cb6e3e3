"""The tracker as resumable workspace steps: interrupt, resume, cached steps, stale detection."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from tfk import errors
from tfk.tdmm.camera import PerspectiveCamera
from tfk.tdmm.pipeline import tracking_steps
from tfk.tdmm.tracker import TrackerConfig, render_faces
from tfk.workspace import Pipeline, Step, Workspace

N, SIZE, FOCAL = 5, 96, 1150.0 * 96 / 512


def _clip(model):
    """A 5-frame head turn rendered from the model (mean identity) and its exact landmarks."""
    t = torch.linspace(0, 1, N)
    euler = torch.stack((0.05 * torch.sin(2 * math.pi * t), 0.2 * (t - 0.5), 0.0 * t), -1)
    trans = torch.stack((0.02 * t, 0.0 * t, -7.5 + 0.1 * t), -1)
    idc, exp = torch.zeros(1, model.id_dim), torch.zeros(N, model.exp_dim)
    cam = PerspectiveCamera.adnerf(FOCAL, SIZE, SIZE)
    light = torch.zeros(N, 27)
    with torch.no_grad():
        img, _ = render_faces(model, idc, exp, euler, trans, torch.zeros(1, model.tex_dim), light, cam, (SIZE, SIZE))
        lms = model.landmarks(idc, exp, euler, trans, cam)
    frames = (img.clamp(0, 255) + 30).clamp(0, 255).round().to(torch.uint8).numpy()
    return frames, lms.numpy()


CFG = TrackerConfig(
    iters_scale=0.02,
    focal_frame_step=2,
    focal_refine_iters=200,
    light_iters=4,
    fine_iters=3,
    lbfgs_iters=5,
    joint_iters=30,
    smooth_iters=200,
)


def _steps(tmp_path, synthetic_bfm, lms, cfg=CFG, detector="synthetic"):
    def detect(sc):  # stands in for the plugin's landmark detection step
        np.save(sc.out / "landmarks.npy", lms)

    lm_step = Step("landmarks", detect, params={"detector": detector})
    track = tracking_steps(
        tmp_path / "frames.npy", "landmarks", synthetic_bfm["adnerf_3dmm.npz"], mode="full", config=cfg, debug=True
    )
    return [lm_step, *track]


def _states(pipe):
    return {s.name: s.state for s in pipe.status()}


def test_tracking_steps_interrupt_resume_and_staleness(synthetic_bfm, face_model, tmp_path, monkeypatch):
    from tfk.tdmm import tracker

    frames, lms = _clip(face_model)
    np.save(tmp_path / "frames.npy", frames)
    steps = _steps(tmp_path, synthetic_bfm, lms)
    names = [s.name for s in steps]
    assert names == [
        "landmarks",
        "track_focal",
        "track_landmarks",
        "track_smooth",
        "track_light",
        "track_photometric",
        "track_write",
        "track_debug",
    ]
    ws = Workspace.for_subject("ernerf", "synth", root=tmp_path / "ws")
    pipe = Pipeline(ws, steps)

    # Ctrl-C inside the lighting stage: the earlier steps are published, nothing of the interrupted one is kept
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tracker, "stage_light", interrupted)
    with pytest.raises(errors.Interrupted):
        pipe.run()
    monkeypatch.undo()
    st = _states(pipe)
    assert [st[n] for n in names[:4]] == ["done"] * 4
    assert [st[n] for n in names[4:]] == ["missing"] * 4
    assert not ws.step_dir("track_light").exists()
    assert not [p for p in ws.steps_dir.iterdir() if ".tmp-" in p.name]
    fit = ws.step_dir("track_landmarks") / "landmark_fit.pt"
    before = (fit.read_bytes(), fit.stat().st_mtime_ns)

    # re-run: earlier steps cached (file untouched), the rest runs
    res = {r.name: r.state for r in pipe.run()}
    assert [res[n] for n in names[:4]] == ["cached"] * 4
    assert [res[n] for n in names[4:]] == ["ran"] * 4
    assert (fit.read_bytes(), fit.stat().st_mtime_ns) == before
    out = ws.step_dir("track_write")
    for name in ("track_params.pt", "transforms_train.json", "transforms_val.json"):
        assert (out / name).is_file()
    assert sorted(p.name for p in (ws.step_dir("track_debug") / "debug").glob("*.png")) == [
        f"{i}.png" for i in range(N)
    ]
    assert set(_states(pipe).values()) == {"done"}

    # the resumed result equals an uninterrupted run
    fresh = Pipeline(
        Workspace.for_subject("ernerf", "fresh", root=tmp_path / "ws2"), _steps(tmp_path, synthetic_bfm, lms)
    )
    fresh.run(until_step="track_write")
    a = torch.load(out / "track_params.pt", weights_only=True)
    b = torch.load(fresh.ws.step_dir("track_write") / "track_params.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "transforms_train.json").read_text() == (
        fresh.ws.step_dir("track_write") / "transforms_train.json"
    ).read_text()

    # a smoothing parameter changes: focal search and landmark fit stay done, smoothing and later are stale
    pipe2 = Pipeline(ws, _steps(tmp_path, synthetic_bfm, lms, replace(CFG, smooth_iters=100)))
    status = {s.name: s for s in pipe2.status()}
    assert [status[n].state for n in names[:3]] == ["done"] * 3
    assert status["track_smooth"].state == "stale" and "smooth_iters" in status["track_smooth"].reason
    assert all(status[n].state == "stale" and "upstream" in status[n].reason for n in names[4:])
    res = {r.name: r.state for r in pipe2.run()}
    assert [res[n] for n in names[:3]] == ["cached"] * 3 and res["track_smooth"] == "ran"
    assert set(_states(pipe2).values()) == {"done"}

    # the upstream landmark step changes (another detector setting): every tracking step is stale
    pipe3 = Pipeline(ws, _steps(tmp_path, synthetic_bfm, lms, replace(CFG, smooth_iters=100), detector="other"))
    status = {s.name: s for s in pipe3.status()}
    assert status["landmarks"].state == "stale" and "detector" in status["landmarks"].reason
    assert all(status[n].state == "stale" for n in names[1:])


def test_tracking_steps_validate_arguments(tmp_path):
    with pytest.raises(errors.UsageError):
        tracking_steps(tmp_path / "v.mp4", None, None)
    with pytest.raises(errors.UsageError):
        tracking_steps(tmp_path / "v.mp4", "landmarks", None, mode="photo")
    steps = tracking_steps(tmp_path / "v.mp4", "landmarks", None, mode="landmarks")
    assert [s.name for s in steps] == ["track_focal", "track_landmarks", "track_smooth", "track_write"]
