"""The subject loader (original layout), audio windows, AU45 parsing and the density-grid update rule."""

from __future__ import annotations

import math

import pytest
import torch
from tfk_ernerf.data import Subject, audio_window, read_au45, rects_from_lms
from tfk_ernerf.render import occupancy as occ
from tfk_ernerf.render.cameras import nerf_matrix_to_ngp

from tfk.errors import BadInput, InputNotFound


def test_subject_loads_the_original_layout(subject_dir):
    s = Subject.load(subject_dir, "train")
    assert len(s) == 10 and (s.h, s.w) == (32, 32)  # 10/11 train split of 12 frames
    assert s.features.shape == (12, 29, 16) and s.frontend == "deepspeech"
    assert s.eye_source == "au.csv" and s.eye[5] == pytest.approx(0.9)  # AU45 1.8 -> clip(0, 2) / 2
    f = s.frames[0]
    assert s.gt(f).shape == (32 * 32, 3) and s.torso(f).shape == (32 * 32, 4)
    r = s.rects(f)
    assert r["lips"][1] - r["lips"][0] == r["lips"][3] - r["lips"][2]  # squared
    with pytest.raises(InputNotFound, match=r"transforms_nope\.json"):
        Subject.load(subject_dir, "nope")


def test_pose_conversion_matches_the_original_axes():
    c2w = torch.eye(4)
    c2w[:3, 3] = torch.tensor([0.1, 0.2, 0.76])
    p = nerf_matrix_to_ngp(c2w)
    assert torch.allclose(p[:3, 3], torch.tensor([0.8, 3.04, 0.4]))  # rows (1, 2, 0), x4
    assert torch.allclose(p[:3, :3], torch.tensor([[0.0, -1, 0], [0, 0, -1], [1, 0, 0]]))


def test_audio_window_pads_with_zeros_at_the_ends():
    feats = torch.arange(5, dtype=torch.float32)[:, None, None].expand(5, 2, 3) + 1
    w = audio_window(feats, 0)
    assert w.shape == (8, 2, 3)
    assert w[:4].abs().sum() == 0 and w[4, 0, 0] == 1 and w[7, 0, 0] == 4
    w = audio_window(feats, 4)
    assert w[0, 0, 0] == 1 and w[4, 0, 0] == 5 and w[5:].abs().sum() == 0


def test_au45_header_with_and_without_spaces(tmp_path):
    for head in ("frame, AU45_r", "frame,AU45_r"):
        p = tmp_path / "au.csv"
        p.write_text(f"{head}\n1, 0.5\n2, 1.5\n")
        assert read_au45(p) == {0: 0.5, 1: 1.5}
    p.write_text("frame, AU01_r\n1, 0.5\n")
    with pytest.raises(BadInput, match="AU45_r"):
        read_au45(p)


def test_rects_use_rows_as_x():
    lms = torch.zeros(68, 2).numpy()
    lms[:, 0] = 10  # column
    lms[:, 1] = 20  # row
    lms[48:60, 0] = [8, 12] * 6
    lms[48:60, 1] = [18, 22] * 6
    r = rects_from_lms(lms, 64, 64)
    assert r["face"][:2] == [18, 22] and r["lips"] == [18, 22, 8, 12]


def test_density_grid_update_is_an_ema_max_over_valid_cells():
    g = 8
    grid = torch.zeros(1, g**3)
    grid[0, 0] = -1  # untrained cell stays untrained
    grid[0, 1] = 20.0
    occ.update_density_grid(grid, lambda x: torch.full((x.shape[0],), 5.0), 1.0)
    assert grid[0, 0] == -1
    assert grid[0, 1] == pytest.approx(19.0)  # max(20 * 0.95, 5)
    assert grid[0, 2] == 5.0
    bits, mean = occ.bitfield_from_grid(grid, 10.0)
    assert mean == pytest.approx(float(grid.clamp(min=0).mean()))
    assert occ.unpackbits(bits)[1] and not occ.unpackbits(bits)[0]


def test_mark_untrained_keeps_cells_in_front_of_the_camera():
    g = 16
    grid = torch.zeros(1, g**3)
    c2w = torch.eye(4)
    c2w[2, 3] = 0.76
    pose = nerf_matrix_to_ngp(c2w)[None]
    occ.mark_untrained(grid, pose, (200.0, 200.0, 16.0, 16.0), 1.0)
    centres = occ.cell_centres(g, 1.0)
    # the camera sits at y = 3.04 looking down -y with a narrow field of view: the centre is seen,
    # a far corner is not
    seen = grid[0] >= 0
    centre = (centres.norm(dim=-1) < 0.2) & seen
    assert centre.any()
    corner = (centres[:, 0] > 0.9) & (centres[:, 2] > 0.9)
    assert not seen[corner].any()
    assert 0 < seen.float().mean() < 1
    assert math.isfinite(float(grid.sum()))
