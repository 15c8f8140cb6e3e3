"""The template cache holds crops within uint8 rounding of the exact crop (what the generator is fed)."""

from __future__ import annotations

import numpy as np
import pytest


def _exact_crop(frame: np.ndarray, sampling: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Reference: torch ``grid_sample`` in float64 (bilinear, zeros outside) at the crop's sample points."""
    import torch
    import torch.nn.functional as F

    h, w = hw
    inv = np.linalg.inv(np.vstack([sampling, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    fh, fw = frame.shape[:2]
    grid = torch.from_numpy(np.stack([(2 * sx + 1) / fw - 1, (2 * sy + 1) / fh - 1], -1))[None]
    img = torch.from_numpy(frame.astype(np.float64)).permute(2, 0, 1)[None]
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("mouth", [64, 288])
def test_cached_crops_are_within_rounding_of_the_exact_crop(short_template, tmp_path, mouth):
    from tfk_lawdnet.crop import _sampling
    from tfk_lawdnet.template import prepare_template

    from tfk.media import iter_frames

    tpl = prepare_template(short_template, mouth=mouth, cache_root=tmp_path)
    crops = tpl.crops()
    errors = []
    for i, frame in enumerate(iter_frames(tpl.video)):
        if i % 4:
            continue
        ref = _exact_crop(frame, _sampling(tpl.matrices[i], tpl.crop_hw, frame.shape[:2], tpl.parity), tpl.crop_hw)
        errors.append(np.abs(crops[i].astype(np.float64) - ref))
    err = np.stack(errors)
    assert err.mean() < 0.5  # the bound: < 0.5/255 on average
    assert err.max() <= 0.5 + 1e-6  # every value is the exact crop rounded (a 1/32-px grid warp is up to 4 off)
