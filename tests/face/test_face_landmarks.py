"""68-point landmarks: real faces, tracking policy, dropouts, exports."""

from __future__ import annotations

import numpy as np
import pytest

from tfk import errors


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def _plausible(pts: np.ndarray) -> None:
    eyes_y = pts[36:48, 1].mean()
    nose_y, mouth_y, chin_y = pts[30, 1], pts[48:68, 1].mean(), pts[8, 1]
    assert eyes_y < nose_y < mouth_y < chin_y
    assert pts[36:42, 0].mean() < pts[42:48, 0].mean()  # image-left eye has the smaller x


def test_detect_and_landmarks_on_a_real_face(astronaut):
    from tfk.face import detect_faces, track_landmarks

    boxes = detect_faces(astronaut)
    assert len(boxes) >= 1
    x0, y0, x1, y1 = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    assert abs(x0 - 179) < 15 and abs(y0 - 83) < 15 and abs(x1 - 266) < 15 and abs(y1 - 170) < 15
    track = track_landmarks([astronaut])
    assert track.points.shape == (1, 68, 2) and bool(track.detected[0])
    _plausible(track.points[0])


def test_synthetic_clip_every_frame_and_tracking_agrees_with_detection(synthetic_clip):
    from tfk.face import track_landmarks

    tracked = track_landmarks(synthetic_clip, mode="track")
    detected = track_landmarks(synthetic_clip, mode="detect")
    assert len(tracked) == len(detected) == 100
    assert tracked.detected.all() and detected.detected.all()
    err = np.linalg.norm(tracked.points - detected.points, axis=-1).mean()
    assert err < 3.0, f"tracking drifts from per-frame detection by {err:.2f} px"


def test_mouth_opening_follows_the_audio(synthetic_clip):
    """The synthetic clip's mouth opens with the audio envelope; landmarks must see it."""
    from tfk.face import track_landmarks
    from tfk.media import load_audio
    from tfk.testing.synth import mouth_envelope

    pts = track_landmarks(synthetic_clip).points
    opening = np.linalg.norm(pts[:, 62] - pts[:, 66], axis=-1)
    env = mouth_envelope(load_audio(synthetic_clip), len(opening))
    r = np.corrcoef(opening, env)[0, 1]
    assert r > 0.5, f"lip opening correlates only {r:.2f} with the audio envelope"


def test_real_clip_every_frame(shared_media, tmp_path):
    from tfk.face import track_landmarks

    track = track_landmarks(shared_media / "WDA_KatieHill_000.mp4", debug_dir=tmp_path / "dbg", debug_every=50)
    assert len(track) == 200 and track.detected.all()
    for i in (0, 50, 100, 150, 199):
        _plausible(track.points[i])
    assert sorted(p.name for p in (tmp_path / "dbg").glob("*.png")) == [
        "overlay_00000.png",
        "overlay_00050.png",
        "overlay_00100.png",
        "overlay_00150.png",
    ]


def test_short_dropouts_are_interpolated_and_flagged(astronaut):
    from tfk.face import track_landmarks

    blank = np.zeros_like(astronaut)
    frames = [astronaut] * 4 + [blank] * 2 + [astronaut] * 4
    track = track_landmarks(frames, max_missing=0.3)
    assert track.interpolated == [4, 5]
    assert np.allclose(track.points[4], track.points[3], atol=1e-3)  # between two equal neighbours


def test_too_many_missing_frames_names_them(astronaut):
    from tfk.face import track_landmarks

    blank = np.zeros_like(astronaut)
    frames = [astronaut] * 3 + [blank] * 7
    with pytest.raises(errors.NoFaceFound) as exc:
        track_landmarks(frames, max_missing=0.2)
    assert exc.value.frames == [3, 4, 5, 6, 7, 8, 9]
    assert "3" in str(exc.value) and "\n" not in str(exc.value)


def test_no_face_at_all(tmp_path):
    from tfk.face import track_landmarks

    with pytest.raises(errors.NoFaceFound):
        track_landmarks([np.full((128, 128, 3), 90, np.uint8)] * 3)


def _two_faces(astronaut, second: bool):
    import cv2

    face = astronaut[40:220, 140:310]
    canvas = np.full((420, 760, 3), 128, np.uint8)
    small = cv2.resize(face, None, fx=1.6, fy=1.6)
    canvas[10 : 10 + small.shape[0], 10 : 10 + small.shape[1]] = small
    if second:
        big = cv2.resize(face, None, fx=1.9, fy=1.9)
        canvas[20 : 20 + big.shape[0], 400 : 400 + big.shape[1]] = big
    return canvas


@pytest.mark.parametrize("mode", ["track", "detect"])
def test_several_faces_keep_the_track(astronaut, mode):
    """A larger second face appears: the track stays on the face it was following."""
    from tfk.face import detect_faces, track_landmarks

    first, both = _two_faces(astronaut, False), _two_faces(astronaut, True)
    assert len(detect_faces(both)) == 2
    track = track_landmarks([first, both, both, both], mode=mode)
    cx = track.points[:, :, 0].mean(axis=1)
    assert track.detected.all() and (cx < 350).all(), f"track jumped to the other face: {cx}"
    alone = track_landmarks([both], mode=mode)
    assert alone.points[0, :, 0].mean() > 400  # with no history, the largest face wins


def test_a_missed_face_is_not_replaced_by_another(astronaut):
    """When the followed face is not detected for a frame, that frame is a miss, not a jump."""
    from tfk.face import choose_face

    prev = np.array([10, 10, 200, 200], np.float32)
    other = np.array([320, 20, 560, 260], np.float32)
    assert choose_face([other], prev, recent=True) is None
    assert choose_face([other], prev, recent=False) is other
    assert choose_face([other, prev + 3], prev, recent=True) is not None


def test_exports_round_trip(astronaut, tmp_path):
    from tfk.face import LandmarkTrack, track_landmarks

    track = track_landmarks([astronaut, astronaut])
    files = track.to_lms_dir(tmp_path / "lms")
    assert [f.name for f in files] == ["0.lms", "1.lms"]
    assert np.allclose(LandmarkTrack.read_lms(files[1]), track.points[1], atol=1e-3)
    csv = track.to_openface_csv(tmp_path / "lm.csv")
    header = csv.read_text().splitlines()[0].replace(" ", "").split(",")
    assert "x_0" in header and "y_67" in header
    assert np.allclose(LandmarkTrack.read_openface_csv(csv), track.points, atol=1e-2)
    back = LandmarkTrack.load_npy(track.save_npy(tmp_path / "t.npy"))
    assert np.array_equal(back.points, track.points) and back.size == track.size


def test_real_clip_tracking_agrees_with_per_frame_detection(shared_media):
    from tfk.face import track_landmarks

    clip = shared_media / "WDA_KatieHill_000.mp4"
    tracked, detected = track_landmarks(clip, mode="track"), track_landmarks(clip, mode="detect")
    assert tracked.detected.all() and detected.detected.all()
    err = np.linalg.norm(tracked.points - detected.points, axis=-1)
    assert err.mean() < 2.0 and np.median(err.mean(axis=1)) < 2.5, f"mean {err.mean():.2f} px"


def test_smoothing_and_max_gap(astronaut):
    from tfk.face import track_landmarks

    blank = np.zeros_like(astronaut)
    frames = [astronaut] * 6 + [blank] * 3 + [astronaut] * 6
    with pytest.raises(errors.NoFaceFound) as exc:
        track_landmarks(frames, max_missing=0.5, max_gap=2)
    assert exc.value.frames == [6, 7, 8]
    smooth = track_landmarks(frames, max_missing=0.5, smooth=2.0)
    assert np.isfinite(smooth.points).all() and smooth.interpolated == [6, 7, 8]


def test_face_alignment_backend_needs_its_package_or_hands_over_store_files(monkeypatch, tmp_path):
    import importlib.util
    import sys
    import types

    from tfk.face.backends import FaceAlignmentLandmarker

    if importlib.util.find_spec("face_alignment") is None:
        with pytest.raises(errors.Unavailable):
            FaceAlignmentLandmarker()
    calls = {}
    fake = types.ModuleType("face_alignment")
    fake.LandmarksType = types.SimpleNamespace(TWO_D="2D")
    fake.FaceAlignment = lambda *a, **kw: calls.update(args=a, kwargs=kw) or types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "face_alignment", fake)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    (tmp_path / "fan.tar").write_bytes(b"x")
    (tmp_path / "s3fd.pth").write_bytes(b"y")
    FaceAlignmentLandmarker(fan_path=tmp_path / "fan.tar", s3fd_path=tmp_path / "s3fd.pth")
    assert calls["kwargs"]["compile"] is False and calls["kwargs"]["device"] == "cpu"
    assert calls["kwargs"]["face_detector_kwargs"] == {"path_to_detector": str(tmp_path / "s3fd.pth")}
    assert (tmp_path / "torch" / "hub" / "checkpoints" / "2DFAN4-11f355bf06.pth.tar").read_bytes() == b"x"


def test_artifacts_are_light_declarations():
    import subprocess
    import sys

    code = "import sys, tfk.face, tfk.face.artifacts as a; print(sorted(x.id for x in a.ARTIFACTS)); " \
        "print([m for m in ('numpy', 'cv2', 'dlib', 'torch') if m in sys.modules])"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['shared/face_parsing_79999', 'shared/fan_2d', 'shared/s3fd']"
    assert out[1] == "[]"
