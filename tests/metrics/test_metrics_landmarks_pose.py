import numpy as np
import pytest

from tfk.errors import BadInput
from tfk.metrics.landmarks import lmd, lmd_per_frame
from tfk.metrics.pose import pose_similarity, pose_stats


def _landmarks(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 300, size=(n, 68, 2))


def test_translation_is_removed_by_centring_but_not_without():
    gt = _landmarks()
    pred = gt + np.array([3.0, 4.0])
    assert lmd(pred, gt, "mouth").value == pytest.approx(0.0, abs=1e-12)
    assert lmd(pred, gt, "face").value == pytest.approx(0.0, abs=1e-12)
    assert lmd(pred, gt, "mouth", align="none").value == pytest.approx(5.0)


def test_known_mouth_offsets():
    gt = _landmarks(n=2)
    pred = gt.copy()
    # open the mouth symmetrically: upper lip points (48-54) up 2 px, lower lip (55-59) down 2 px
    # keeping the mouth centroid where it was only for a balanced set, so use align="none" for exact values
    pred[:, 48:68, 1] += np.where(np.arange(20) % 2 == 0, 2.0, -2.0)
    res_m = lmd(pred, gt, "mouth", align="none")
    res_f = lmd(pred, gt, "face", align="none")
    assert res_m.value == pytest.approx(2.0)
    assert res_f.value == pytest.approx(2.0 * 20 / 68)
    # balanced +-2 offsets keep the mouth mean: centring changes nothing
    assert lmd(pred, gt, "mouth").value == pytest.approx(2.0)


def test_frames_without_landmarks_are_skipped():
    gt = _landmarks(n=4)
    pred = gt + 0.0
    pred[1, 50, 0] += 10.0
    pred[2] = np.nan
    res = lmd(pred, gt, "mouth", align="none")
    assert res.frames_used == 3 and res.frames_skipped == 1
    per = lmd_per_frame(pred, gt, "mouth", align="none")
    assert np.isnan(per[2]) and per[1] == pytest.approx(10.0 / 20)
    assert res.value == pytest.approx((10.0 / 20) / 3)


def test_bad_shapes_raise_bad_input():
    with pytest.raises(BadInput):
        lmd(np.zeros((3, 5, 2)), np.zeros((3, 5, 2)))
    with pytest.raises(BadInput):
        lmd(_landmarks(3), _landmarks(4))


def test_pose_stats_of_known_motion():
    t = np.arange(100)
    euler = np.stack([np.zeros(100), 10 * np.sin(2 * np.pi * t / 50), np.full(100, 2.0)], axis=1)
    st = pose_stats(euler)
    assert st["mean"]["yaw"] == pytest.approx(0.0, abs=1e-9)
    assert st["std"]["yaw"] == pytest.approx(10 / np.sqrt(2), rel=1e-6)
    assert st["std"]["pitch"] == 0 and st["velocity"]["roll"] == 0
    assert st["velocity"]["yaw"] == pytest.approx(np.abs(np.diff(euler[:, 1])).mean())
    assert st["diversity"] == pytest.approx(10 / np.sqrt(2) / 3, rel=1e-6)
    with pytest.raises(BadInput):
        pose_stats(np.zeros((4, 2)))


def test_pose_similarity_orders_distributions():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 5, size=(300, 3))
    assert pose_similarity(a, a) == pytest.approx(1.0)
    near = pose_similarity(a, rng.normal(0, 5, size=(300, 3)))
    far = pose_similarity(a, rng.normal(15, 5, size=(300, 3)))
    assert far < near <= 1.0
