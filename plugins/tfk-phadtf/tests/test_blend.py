"""The MATLAB blend, the crop geometry and the pose re-assignment (pure numpy units)."""

from __future__ import annotations

import itertools

import numpy as np


def test_blend_matches_a_hand_computation_with_the_hole_filled():
    from tfk_phadtf.blend import alpha_blend, fill_alpha

    bg = np.full((5, 5, 3), 100, np.uint8)
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[1:4, 1:4, 3] = 255  # a ring of coverage ...
    rgba[2, 2, 3] = 0  # ... with a hole (an open mouth): MATLAB's bwboundaries L >= 2 -> opaque
    rgba[0, 0, 3] = 51  # partial coverage at the border: 100*(1-0.2) + 200*0.2 = 120
    rgba[0, 4, 3] = 128  # 100*(1-128/255) + 200*128/255 = 150.196 -> 150
    rgba[4, 4, 3] = 0
    a = fill_alpha(rgba[..., 3])
    assert a[2, 2] == 255 and a[4, 4] == 0 and a[0, 0] == 51
    out = alpha_blend(bg, rgba)
    assert out[2, 2].tolist() == [200, 200, 200]  # the hole is the render's colour, not the background
    assert out[1, 1].tolist() == [200] * 3 and out[4, 4].tolist() == [100] * 3
    assert out[0, 0, 0] == 120 and out[0, 4, 0] == 150


def test_blend_rounds_halves_up_like_matlab_uint8():
    from tfk_phadtf.blend import alpha_blend

    bg = np.zeros((1, 2, 3), np.uint8)
    bg[0, 1] = 1
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[..., :3] = 1
    rgba[..., 3] = [0, 0]
    # 0.5 exactly: with alpha a/255 the value (1 - a) * 0 + a * 1 is x.5 only for a = 127.5 (impossible), so test
    # the rounding helper through bg/render = 0/1 at a = 128: 128/255 = 0.502 -> 1, a = 127 -> 0.498 -> 0
    rgba[0, 0, 3], rgba[0, 1, 3] = 128, 127
    bg[0, 1] = 0
    out = alpha_blend(bg, rgba)
    assert out[0, 0, 0] == 1 and out[0, 1, 0] == 0


def test_fixed_crop_geometry_round_trips():
    from tfk_phadtf.crops import crop_to_image, crop_with, to_crop

    img = np.zeros((200, 300, 3), np.uint8)
    img[90:110, 140:160] = 255
    tp = np.array([300, 200, 1.5, 150, 100], np.float64)  # centred, scale 1.5
    crop = crop_with(img, tp)
    pt = np.array([[150.0, 100.0]])
    c = to_crop(pt, tp)[0]
    assert np.allclose(c, [112, 112], atol=1.0) and crop[int(c[1]), int(c[0])].max() == 255
    m = crop_to_image(tp)
    back = m[:, :2] @ c + m[:, 2]
    assert np.allclose(back, pt[0], atol=1e-6)


def test_pose_matching_stays_in_range_and_follows_the_keyframes():
    from tfk_phadtf.posematch import keyframes, match_frames, ping_pong

    t = np.arange(120)
    real = np.stack([np.zeros(30), np.zeros(30), np.linspace(-0.3, 0.3, 30)], 1)  # yaw sweeps over the clip
    pred = np.stack([np.zeros(120), np.zeros(120), 0.3 * np.sin(t / 8.0)], 1)
    keys = keyframes(pred)
    assert keys[0] == 0 and keys[-1] == 119 and len(keys) <= 120 // 10 + 2
    assert all(b - a >= 3 for a, b in itertools.pairwise(keys))
    idx = match_frames(pred, real)
    assert idx.shape == (120,) and idx.min() >= 0 and idx.max() < 30
    # at a keyframe the matched real yaw is the closest one reachable: high predicted yaw -> high real yaw
    top = int(np.argmax(pred[:, 2]))
    assert real[idx[top], 2] > 0.1
    assert ping_pong(7, 3).tolist() == [0, 1, 2, 1, 0, 1, 2]
