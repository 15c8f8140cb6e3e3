"""Preprocess on the shared clip (first 40 frames) and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import loadmat

from tfk.errors import BadInput, NoFaceFound


def test_every_step_writes_the_original_layouts(subject, subject_ctx):
    s = subject_ctx.extra["summary"]
    assert s["frames"] == 40 and s["train_frames"] == 30 and s["coeff_source"] == "fit"
    assert s["identity_source"] == "arcface_torch"
    ws = subject_ctx.workspace
    mat = loadmat(ws.step_dir("renders") / "mat" / "frame7.mat")
    assert mat["coeff"].shape == (1, 257) and mat["lm_5p"].shape == (5, 2) and str(mat["source"][0]) == "fit"
    five = np.loadtxt(ws.step_dir("landmarks") / "txt" / "frame3.txt")
    assert five.shape == (5, 2)
    rgba = subject.image("renders", "frame5_render.png")
    assert rgba.shape == (224, 224, 4) and set(np.unique(rgba[..., 3])) <= {0, 255} and rgba[..., 3].any()
    assert subject.image("renders", "frame5_input2.png").shape == (224, 224, 3)
    assert subject.image("blend", "frame5_renderold_bm.png").shape == (224, 224, 3)
    assert subject.mfcc_windows.shape[1:] == (28, 12) and abs(len(subject.mfcc_windows) - 200) <= 1
    assert np.load(ws.step_dir("mfcc") / "mfcc.npy").shape[1] == 13
    ident = subject.identity
    assert ident.shape == (40, 512) and np.allclose(np.linalg.norm(ident, axis=1), 1, atol=1e-4)
    assert subject.lm_5p.shape == (40, 5, 2) and np.allclose(subject.lm_5p[0], 0, atol=1e-3)


def test_rerun_resumes_without_redoing_steps(subject_ctx, shared_media, synthetic_bfm, tiny_weights, phadtf_helpers):
    _, preprocess_options = phadtf_helpers
    from tfk_phadtf.preprocess import preprocess

    done = subject_ctx.workspace.step_dir("coeffs") / ".done.json"
    before = json.loads(done.read_text())["run"]
    preprocess(subject_ctx, preprocess_options(shared_media / "WDA_KatieHill_000.mp4", synthetic_bfm, tiny_weights))
    assert json.loads(done.read_text())["run"] == before


def test_short_clip_is_refused_clearly(tmp_path, shared_media, synthetic_bfm, tiny_weights, phadtf_helpers):
    _ctx, preprocess_options = phadtf_helpers
    from tfk_phadtf.preprocess import preprocess

    opts = preprocess_options(shared_media / "WDA_KatieHill_000.mp4", synthetic_bfm, tiny_weights, min_seconds=16.0)
    with pytest.raises(BadInput, match=r"8\.0 s long; PHADTF needs at least 16 s"):
        preprocess(_ctx(tmp_path, "short", "preprocess"), opts)


def test_clip_without_a_face_is_refused_with_frame_numbers(tmp_path, synthetic_bfm, tiny_weights, phadtf_helpers):
    _ctx, preprocess_options = phadtf_helpers
    from tfk_phadtf.preprocess import preprocess

    from tfk.media import VideoWriter

    video = tmp_path / "noface.mp4"
    with VideoWriter(video, fps=25, audio=np.zeros(16000, np.float32)) as vw:
        for k in range(25):
            vw.write(np.full((128, 128, 3), 40 + k, np.uint8))
    with pytest.raises(NoFaceFound) as err:
        preprocess(_ctx(tmp_path, "noface", "preprocess"), preprocess_options(video, synthetic_bfm, tiny_weights))
    assert "face" in str(err.value) and err.value.frames
