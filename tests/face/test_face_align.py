"""Similarity/affine estimation, crops with inverse transforms, paste-back, FFHQ and 5-point alignment."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def astro():
    from skimage import data

    from tfk.face import track_landmarks

    img = data.astronaut()
    return img, track_landmarks([img]).points[0]


def test_similarity_recovers_a_known_transform():
    from tfk.face.align import similarity_from_points, transform_points

    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (10, 2))
    a, s, t = np.deg2rad(17), 1.3, np.array([5.0, -7.0])
    m = np.array([[s * np.cos(a), -s * np.sin(a), t[0]], [s * np.sin(a), s * np.cos(a), t[1]]])
    dst = transform_points(m, src)
    assert np.allclose(similarity_from_points(src, dst), m, atol=1e-6)


def test_crop_then_paste_back_reproduces_the_region(astro):
    from tfk.face.align import crop, invert, paste_back, similarity_from_points, transform_points

    img, lm = astro
    m = similarity_from_points(lm[[36, 45, 30]], np.array([[60.0, 80.0], [196.0, 80.0], [128.0, 140.0]]))
    c = crop(img, m, 256)
    back = paste_back(np.zeros_like(img), c, m, feather=0)
    inside = transform_points(invert(m), np.array([[128.0, 128.0]]))[0].astype(int)
    y, x = inside[1], inside[0]
    assert np.abs(back[y - 10 : y + 10, x - 10 : x + 10].astype(int) - img[y - 10 : y + 10, x - 10 : x + 10]).mean() < 6


@pytest.mark.parametrize("offset", [(-150, -150), (400, 0), (0, 420), (-60, 300)])
def test_crops_partly_outside_the_frame_do_not_crash_or_wrap(offset):
    from tfk.face.align import crop, paste_back

    frame = np.zeros((200, 300, 3), np.uint8)
    m = np.array([[1.0, 0, -offset[0]], [0, 1.0, -offset[1]]])  # crop origin at `offset`
    c = crop(frame, m, 256, border="constant")
    assert c.shape == (256, 256, 3)
    out = paste_back(frame, np.full_like(c, 255), m)
    ys, xs = np.nonzero(out[..., 0])
    if len(xs):  # only the crop's footprint inside the frame changed: nothing wrapped to the far side
        assert xs.min() >= max(offset[0], 0) - 1 and ys.min() >= max(offset[1], 0) - 1
        assert xs.max() <= offset[0] + 256 and ys.max() <= offset[1] + 256


def test_ffhq_and_deep3d_alignment_on_a_real_face(astro):
    from tfk.face.align import align_5pt_deep3d, align_ffhq, five_points, transform_points

    img, lm = astro
    aligned, m = align_ffhq(img, lm, size=256)
    assert aligned.shape == (256, 256, 3)
    eyes = transform_points(m, np.stack([lm[36:42].mean(0), lm[42:48].mean(0)]))
    assert abs(eyes[0, 1] - eyes[1, 1]) < 6  # eyes level after alignment
    assert 70 < eyes[0, 0] < 128 < eyes[1, 0] < 186 and 80 < eyes.mean(0)[1] < 140
    crop, lm_crop, params = align_5pt_deep3d(img, lm)
    assert crop.shape[:2] == (224, 224) and lm_crop.shape == lm.shape and len(params) == 5
    inner = lm_crop[17:]  # brows, eyes, nose, mouth sit well inside the 224 crop
    assert np.all((inner > 30) & (inner < 194))
    assert np.allclose(five_points(lm)[3], lm[48])


@pytest.mark.parametrize("offset", [(-40, 30), (100, -50), (-20, -20), (120, 90)])
def test_paste_back_never_pastes_the_border_fill(offset):
    """Round trip crop -> paste of a crop that reaches outside a bright frame: no dark edge rows/columns."""
    import cv2

    from tfk.face.align import crop, paste_back

    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.uniform(150, 255, (200, 240, 3)).astype(np.float32), (0, 0), 4)
    frame = np.clip(noise, 0, 255).astype(np.uint8)  # bright and smooth: the interior round-trips within 3
    a = np.deg2rad(8)
    m = np.array([[np.cos(a), -np.sin(a), -offset[0]], [np.sin(a), np.cos(a), -offset[1]]])
    c = crop(frame, m, 160, border="constant")
    assert (c == 0).all(-1).any()
    out = paste_back(frame, c, m, feather=0)
    err = np.abs(out.astype(int) - frame.astype(int)).max(-1)
    assert err.max() <= 3, f"max round-trip error {err.max()} at {np.unravel_index(err.argmax(), err.shape)}"
