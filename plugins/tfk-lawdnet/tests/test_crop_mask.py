"""Frontalisation crop, source mask and paste-back maths (reference notes §1.6, §1.7, §4.2)."""

from __future__ import annotations

import numpy as np
import pytest
from tfk_lawdnet.crop import (
    LIST68TO25,
    align_crop,
    canonical_points,
    crop_size,
    matrices_from_landmarks,
    paste_back,
    transform_points,
)
from tfk_lawdnet.mask import paste_mask, source_mask


def _similarity(scale: float, theta: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(theta) * scale, np.sin(theta) * scale
    return np.array([[c, -s, tx], [s, c, ty], [0, 0, 1.0]])


def _landmarks_for(frame_from_crop: np.ndarray, out_w: int) -> np.ndarray:
    """68 landmarks whose 25 used points are the canonical ones mapped into the frame."""
    pts = np.zeros((68, 2))
    pts[list(LIST68TO25)] = transform_points(frame_from_crop, canonical_points(out_w))
    return pts


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, structured RGB image (bilinear resampling of it is accurate)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_crop_sizes_and_canonical_targets():
    assert crop_size(288) == (468, 360)
    assert crop_size(256) == (416, 320)
    assert crop_size(64) == (104, 80)
    t = canonical_points(360)
    # mouth corners and the nose bottom (landmark 33 is index 16 of the 25) as documented
    np.testing.assert_allclose(t[23], (112, 270), atol=0.5)
    np.testing.assert_allclose(t[24], (248, 270), atol=0.5)
    np.testing.assert_allclose(t[16], (180, 226.5), atol=0.5)


@pytest.mark.parametrize("scale,theta", [(1.0, 0.0), (2.3, 0.2), (0.6, -0.35)])
def test_similarity_is_recovered_exactly(scale, theta):
    out_w = 360
    f_from_c = _similarity(scale, theta, 310.0, 175.0)
    lm = _landmarks_for(f_from_c, out_w)
    m = matrices_from_landmarks(lm, out_w)
    np.testing.assert_allclose(m, np.linalg.inv(f_from_c), atol=1e-6)
    # aligned landmarks land on the targets
    np.testing.assert_allclose(transform_points(m, lm[list(LIST68TO25)]), canonical_points(out_w), atol=1e-3)
    # batched form
    mb = matrices_from_landmarks(np.stack([lm, lm]), out_w)
    assert mb.shape == (2, 3, 3)


def test_parity_warp_matches_the_original_grid_sample_convention():
    """align_crop(parity=True) samples where affine_grid/grid_sample(align_corners=False) with 2/(W-1)
    normalisation matrices sample (the original warp_img_torch)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    img = _texture(300, 280)
    out_w = 80
    out_h = int(1.3 * out_w)
    m = matrices_from_landmarks(_landmarks_for(_similarity(1.4, 0.15, 140, 150), out_w), out_w)

    def norm(h, w):
        return np.array([[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1.0]])

    theta = norm(300, 280) @ np.linalg.inv(m) @ np.linalg.inv(norm(out_h, out_w))
    grid = F.affine_grid(torch.tensor(theta[None, :2], dtype=torch.float64), [1, 3, out_h, out_w], align_corners=False)
    src = torch.from_numpy(img).permute(2, 0, 1)[None].double()
    ref = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    ref = ref[0].permute(1, 2, 0).numpy()
    ours = align_crop(img, m, out_w, parity=True).astype(np.float64)
    assert ours.shape == (out_h, out_w, 3)
    assert np.abs(ours - ref)[2:-2, 2:-2].mean() < 0.6  # cv2 fixed-point bilinear vs float: sub-level
    exact = align_crop(img, m, out_w, parity=False).astype(np.float64)
    assert np.abs(exact - ref)[2:-2, 2:-2].mean() > np.abs(ours - ref)[2:-2, 2:-2].mean()


def test_source_mask_matches_the_documented_extent():
    m = source_mask(468, 360)
    for thr, (r0, r1, c0, c1) in {
        0.99: (153, 432, 39, 320),
        0.5: (142, 443, 28, 331),
        0.01: (131, 454, 17, 342),
    }.items():
        rows = np.flatnonzero((m > thr).any(1))
        cols = np.flatnonzero((m > thr).any(0))
        assert (rows[0], rows[-1], cols[0], cols[-1]) == (r0, r1, c0, c1)


@pytest.mark.parametrize("hw", [(468, 360), (104, 80), (416, 320)])
def test_paste_mask_covers_the_masked_region_and_fades_to_zero(hw):
    h, w = hw
    p, s = paste_mask(h, w), source_mask(h, w)
    assert np.all(p[s > 0.01] == 1.0)
    assert p[0].max() == 0 and p[-1].max() == 0 and p[:, 0].max() == 0 and p[:, -1].max() == 0
    assert p.min() + 1 > 0 and p.max() == 1


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("scale", [0.7, 1.0, 2.0])
def test_crop_then_paste_reproduces_the_face_region(scale):
    out_w = 360
    frame = _texture(720, 960, seed=1)
    f_from_c = _similarity(scale, 0.1, 480 - 180 * scale, 360 - 234 * scale)
    m = matrices_from_landmarks(_landmarks_for(f_from_c, out_w), out_w)
    crop = align_crop(frame, m, out_w)
    out = paste_back(frame, crop, m)
    # frame pixels whose crop position is fully inside the pasted region
    ys, xs = np.mgrid[0:720, 0:960]
    cpos = transform_points(m, np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)).reshape(720, 960, 2)
    h, w = crop.shape[:2]
    inside = (cpos[..., 0] > 45) & (cpos[..., 0] < w - 45) & (cpos[..., 1] > 140) & (cpos[..., 1] < h - 20)
    assert inside.sum() > 1000
    assert _psnr(out[inside], frame[inside]) > 35
    far = ~((cpos[..., 0] > -3) & (cpos[..., 0] < w + 3) & (cpos[..., 1] > -3) & (cpos[..., 1] < h + 3))
    assert np.array_equal(out[far], frame[far])  # nothing outside the crop is touched


def test_paste_has_no_holes_when_the_face_is_larger_than_the_crop():
    """An 800-px face (scale 800/360 > 1): the original splat covered ~20%; every pixel must be written."""
    out_w = 360
    scale = 800 / 360
    frame = np.zeros((1200, 1400, 3), np.uint8)
    f_from_c = _similarity(scale, 0.05, 700 - 180 * scale, 600 - 234 * scale)
    m = matrices_from_landmarks(_landmarks_for(f_from_c, out_w), out_w)
    white = np.full((468, 360, 3), 255, np.uint8)
    out = paste_back(frame, white, m)
    ys, xs = np.mgrid[0:1200, 0:1400]
    cpos = transform_points(m, np.stack([xs, ys], -1).reshape(-1, 2).astype(np.float64)).reshape(1200, 1400, 2)
    core = paste_mask(468, 360) == 1.0
    rows, cols = np.flatnonzero(core.any(1)), np.flatnonzero(core.any(0))
    inside = (
        (cpos[..., 0] >= cols[0] + 1)
        & (cpos[..., 0] <= cols[-1] - 1)
        & (cpos[..., 1] >= rows[0] + 1)
        & (cpos[..., 1] <= rows[-1] - 1)
    )
    assert inside.sum() > 300_000
    assert out[inside].min() == 255


@pytest.mark.parametrize("cx,cy", [(0, 300), (799, 300), (400, 0), (400, 599), (-150, -150), (950, 750), (5000, 5000)])
def test_paste_at_frame_borders_never_crashes_or_wraps(cx, cy):
    out_w = 360
    frame = _texture(600, 800, seed=2)
    scale = 1.2
    f_from_c = _similarity(scale, 0.0, cx - 180 * scale, cy - 234 * scale)
    m = matrices_from_landmarks(_landmarks_for(f_from_c, out_w), out_w)
    out = paste_back(frame, np.full((468, 360, 3), 255, np.uint8), m)
    assert out.shape == frame.shape and out.dtype == np.uint8
    # no wrap-around: the half of the frame away from the face is untouched
    if 0 <= cx < 800 and 0 <= cy < 600:
        if cx < 100:
            assert np.array_equal(out[:, 600:], frame[:, 600:])
        if cx > 700:
            assert np.array_equal(out[:, :200], frame[:, :200])
        if cy < 100:
            assert np.array_equal(out[450:], frame[450:])
        if cy > 500:
            assert np.array_equal(out[:50], frame[:50])
    if cx >= 5000:
        assert np.array_equal(out, frame)


@pytest.mark.parametrize("cx,cy", [(20, 300), (780, 300), (400, 15), (400, 590), (10, 10)])
def test_paste_back_round_trip_is_exact_at_frame_edges(cx, cy):
    """A face crop that reaches outside the frame, pasted back unchanged, must not blend its black fill
    into the outermost rows/columns (35-130 levels there before the fix; the interior's bilinear round trip
    of this texture stays within a few levels)."""
    out_w = 360
    frame = np.clip(_texture(600, 800, seed=3).astype(np.int16) + 120, 0, 255).astype(np.uint8)  # bright
    f_from_c = _similarity(1.0, 0.1, cx - 180, cy - 234)
    m = matrices_from_landmarks(_landmarks_for(f_from_c, out_w), out_w)
    crop = align_crop(frame, m, out_w)
    assert (crop == 0).all(-1).any()  # the crop does reach outside the frame
    out = paste_back(frame, crop, m)
    err = np.abs(out.astype(np.int16) - frame.astype(np.int16)).max(-1)
    edges = np.concatenate([err[:2].ravel(), err[-2:].ravel(), err[:, :2].ravel(), err[:, -2:].ravel()])
    interior = err[2:-2, 2:-2].max()
    assert interior <= 6
    assert edges.max() <= interior, f"edge round-trip error {edges.max()} vs {interior} inside"
