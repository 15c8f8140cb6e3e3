"""Rotation/projection conventions and transforms_{train,val}.json / track_params.pt in the original formats."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from tfk.errors import BadInput
from tfk.tdmm.camera import PerspectiveCamera, deep3d_rotation, euler2rot, rot2euler, rotation_angle_deg
from tfk.tdmm.transforms import (
    SPLIT_DFRF,
    SPLIT_ERNERF,
    c2w_matrices,
    face_rect,
    lip_rect,
    load_track_params,
    poses_to_params,
    read_transforms,
    save_track_params,
    split_ids,
    write_transforms,
)


def _rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_rotation_conventions():
    e = torch.tensor([[0.3, -0.2, 0.1]], dtype=torch.float64)
    assert np.allclose(euler2rot(e)[0].numpy(), _rx(0.3) @ _ry(-0.2) @ _rz(0.1))
    assert np.allclose(deep3d_rotation(e)[0].numpy(), _rz(0.1) @ _ry(-0.2) @ _rx(0.3))
    assert torch.allclose(rot2euler(euler2rot(e)), e)
    r = euler2rot(torch.rand(50, 3, dtype=torch.float64) - 0.5)
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(50, 3, 3))
    assert float(rotation_angle_deg(euler2rot(e), euler2rot(e + torch.tensor([[0.01, 0, 0]])))) == pytest.approx(
        math.degrees(0.01), rel=1e-4
    )


def test_adnerf_projection():
    cam = PerspectiveCamera.adnerf(1100.0, 450, 450)
    uv = cam.project(torch.tensor([[[0.1, 0.2, -7.0]]]))[0, 0]
    assert float(uv[0]) == pytest.approx(225 + 1100 * 0.1 / 7)  # u = cx − f·X/Z
    assert float(uv[1]) == pytest.approx(225 - 1100 * 0.2 / 7)  # v = cy + f·Y/Z (image y down)


def _landmarks(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    from tfk.tdmm.synthetic import landmark_template

    base = landmark_template() * np.array([120.0, -120.0]) + np.array([256.0, 300.0])
    return (base[None] + rng.normal(size=(n, 68, 2))).astype(np.float32)


def test_transforms_json_round_trip(tmp_path):
    n = 23
    rng = np.random.default_rng(1)
    euler = rng.uniform(-0.4, 0.4, (n, 3))
    trans = np.column_stack((rng.uniform(-0.2, 0.2, (n, 2)), rng.uniform(-8, -6, n)))
    lms = _landmarks(n)
    paths = write_transforms(tmp_path, euler, trans, 1100.0, 512, 512, lms, SPLIT_ERNERF)
    assert sorted(p.name for p in paths.values()) == ["transforms_train.json", "transforms_val.json"]
    train, val = read_transforms(paths["train"]), read_transforms(paths["val"])
    assert train["ids"] == list(range(20)) and val["ids"] == [20, 21, 22]  # int(23·10/11) = 20
    doc = json.loads(paths["train"].read_text())
    assert set(doc) == {"focal_len", "cx", "cy", "frames"}
    assert set(doc["frames"][0]) == {"img_id", "aud_id", "transform_matrix", "face_rect", "lip_rect"}
    assert (train["focal"], train["cx"], train["cy"], train["width"]) == (1100.0, 256.0, 256.0, 512)
    poses = np.concatenate((train["poses"], val["poses"]))
    assert np.allclose(poses[:, 3], [0, 0, 0, 1])
    r = poses[:, :3, :3]
    assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3), atol=1e-6)
    e2, t2 = poses_to_params(poses)
    assert np.allclose(e2, euler, atol=1e-6) and np.allclose(t2, trans, atol=1e-6)
    # the camera sees the head (world origin) straight ahead at distance |t_z|/10, down its −Z axis
    w2c = np.linalg.inv(poses)
    head = w2c[:, :3, 3]
    assert np.allclose(head, trans / 10.0, atol=1e-6) and bool((head[:, 2] < 0).all())
    assert np.allclose(c2w_matrices(euler, trans), poses)


def test_split_rules():
    assert split_ids(11, SPLIT_ERNERF) == (list(range(10)), [10])
    assert split_ids(10, SPLIT_DFRF) == (list(range(5)), list(range(5, 10)))
    assert split_ids(5, SPLIT_ERNERF) == ([0, 1, 2, 3], [4])
    assert split_ids(1, SPLIT_ERNERF) == ([0], [0])
    assert split_ids(22, Fraction(10, 11))[0] == list(range(20))
    with pytest.raises(BadInput):
        split_ids(10, 1.5)


def test_rectangles_follow_the_original_formulas():
    lms = _landmarks(1)[0]
    x, y, _, h = face_rect(lms, 512, 512)
    cx = int((lms[:, 0].min() + lms[:, 0].max()) / 2)
    hh = int((lms[8, 1] - int(lms[27, 1])) * 1.15)
    assert x == cx - int((lms[:, 0].max() - cx) * 1.5) and y == int(lms[27, 1]) - hh and h == 2 * hh
    lx, ly, lw, lh = lip_rect(lms, 512, 512)
    assert lx < lms[48, 0] < lms[54, 0] < lx + lw and ly < lms[66, 1] < ly + lh
    edge = lms.copy()
    edge[:, 0] -= edge[:, 0].min() - 1  # touching the left border: clipped, not negative
    assert face_rect(edge, 512, 512)[0] == 0


def test_track_params_format(tmp_path):
    n = 7
    p = save_track_params(
        tmp_path / "track_params.pt",
        {
            "id": torch.zeros(100),
            "exp": torch.zeros(n, 79),
            "euler": torch.zeros(n, 3),
            "trans": torch.ones(n, 3),
            "focal": 1300.0,
        },
    )
    d = torch.load(p, weights_only=True)
    assert {k: tuple(v.shape) for k, v in d.items()} == {
        "id": (1, 100),
        "exp": (n, 79),
        "euler": (n, 3),
        "trans": (n, 3),
        "focal": (1,),
    }
    assert all(v.dtype == torch.float32 and v.device.type == "cpu" for v in d.values())
    assert float(load_track_params(p)["focal"][0]) == 1300.0
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput):
        load_track_params(tmp_path / "bad.pt")


def test_a_saved_landmark_track_loads_as_a_plain_array_torch_accepts(tmp_path):
    """A ``LandmarkTrack`` ``.npy`` is a structured array; its points come back contiguous (not a strided view)."""
    import numpy as np
    import torch

    from tfk.face.track import LandmarkTrack
    from tfk.tdmm.frames import load_landmarks

    pts = np.random.default_rng(0).uniform(0, 100, (5, 68, 2)).astype(np.float32)
    track = LandmarkTrack(points=pts, boxes=np.zeros((5, 4)), detected=np.ones(5, bool), size=(128, 128))
    arr = load_landmarks(track.save_npy(tmp_path / "lms.npy"))
    assert arr.flags.c_contiguous and np.array_equal(arr, pts)
    assert torch.as_tensor(arr).shape == (5, 68, 2)
