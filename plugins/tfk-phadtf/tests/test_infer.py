"""The full chain on the shared clip with tiny weights: playable H.264 + AAC, 25 x audio seconds, A/V in sync."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def nets(tiny_weights):
    from tfk_phadtf.infer import load_nets

    return load_nets(tiny_weights["atcnet"], tiny_weights["net_g"], tiny_weights["net_mem"])


@pytest.fixture(scope="module")
def face_model(synthetic_bfm):
    from tfk_phadtf.resources import face_model

    return face_model(synthetic_bfm["BFM_model_front.mat"])


@pytest.mark.slow
def test_full_frame_video_with_audio(subject, nets, face_model, shared_media, tmp_path):
    from tfk_phadtf.infer import generate

    from tfk.media import count_frames, load_audio, probe, write_wav

    wav = load_audio(shared_media / "RD_Radio34_002.wav", sr=16000)[: int(16000 * 1.2)]
    audio = write_wav(tmp_path / "speech.wav", wav)
    out = tmp_path / "out.mp4"
    res = generate(subject, nets, face_model, wav, out, audio, pose="generated", full_frame=True)
    assert res["frames"] == 30 and count_frames(out, exact=True) == 30  # 25 x 1.2 s
    info = probe(out)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (512, 512)
    assert abs(info.audio_duration - info.video_duration) < 1 / 25 + 0.03  # AAC frame granularity
    assert min(res["matched_frames"]) >= 0 and max(res["matched_frames"]) < subject.n_train


@pytest.mark.slow
def test_face_only_with_the_video_poses(subject, nets, face_model, tmp_path):
    from tfk_phadtf.infer import generate

    from tfk.media import iter_frames, probe

    wav = (0.1 * np.sin(np.arange(int(16000 * 0.4)) / 7.0)).astype(np.float32)
    out = tmp_path / "face.mp4"
    res = generate(subject, nets, face_model, wav, out, None, pose="video", full_frame=False)
    assert res["matched_frames"] == list(range(10))  # ping-pong through the real poses
    info = probe(out)
    assert (info.width, info.height) == (256, 256) and info.audio_codec == "aac"
    frames = list(iter_frames(out))
    assert len(frames) == 10 and np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() < 3  # 0,1 copy 2


def test_chain_pieces_keep_the_original_conventions(subject, face_model):
    from tfk_phadtf.facerender import FaceRenderer
    from tfk_phadtf.infer import Composer

    comp = Composer(subject, FaceRenderer(face_model))
    exp = np.zeros((2, 64), np.float32)
    c = comp.coeffs(exp, np.array([3, 7]))
    assert np.array_equal(c[:, :80], np.repeat(subject.coeffs[:1, :80], 2, 0))  # frame 0's identity
    assert np.array_equal(c[1, 224:227], subject.coeffs[7, 224:227])  # the matched frame's pose
    assert np.array_equal(c[:, 80:144], exp)
    blends = comp.blends(exp, np.array([3, 7]))
    assert blends[0].shape == (224, 224, 3) and blends[0].dtype == np.uint8


def test_cached_identity_render_equals_the_full_render(subject, face_model):
    from tfk_phadtf.facerender import FaceRenderer

    r = FaceRenderer(face_model)
    r.fix_identity(subject.coeffs[0])
    c = np.repeat(subject.coeffs[:1], 3, 0).copy()
    c[:, 80:144] = subject.coeffs[[4, 9, 14], 80:144]
    c[:, 224:227] = subject.coeffs[[5, 10, 20], 224:227]
    c[:, 254:257] = subject.coeffs[[5, 10, 20], 254:257]
    fast = r.render_exp_pose(c[:, 80:144], c[:, 224:227], c[:, 254:257])
    full = r.render(c)
    assert np.abs(fast.astype(int) - full.astype(int)).max() <= 1 and (fast[..., 3] == full[..., 3]).mean() > 0.999
