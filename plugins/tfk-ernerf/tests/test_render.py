"""Occupancy grid (Morton order, bitfield), marchers and compositor."""

from __future__ import annotations

import math

import torch
from tfk_ernerf.models.network import ERNeRF, NetConfig
from tfk_ernerf.render import occupancy as occ
from tfk_ernerf.render.cameras import get_rays, near_far_from_aabb, nerf_matrix_to_ngp
from tfk_ernerf.render.march import composite, march_occupancy, march_uniform, step_size
from tfk_ernerf.render.renderer import Conditioning, render_frame


def _naive_morton(x, y, z):
    m = 0
    for b in range(10):
        m |= ((x >> b) & 1) << (3 * b) | ((y >> b) & 1) << (3 * b + 1) | ((z >> b) & 1) << (3 * b + 2)
    return m


def test_morton_matches_bit_loop_and_inverts():
    g = torch.Generator().manual_seed(0)
    c = torch.randint(0, 1024, (500, 3), generator=g)
    m = occ.morton3d(c[:, 0], c[:, 1], c[:, 2])
    assert m.tolist() == [_naive_morton(*row) for row in c.tolist()]
    x, y, z = occ.morton3d_invert(m)
    assert torch.equal(torch.stack([x, y, z], -1), c)
    # a 128^3 grid's codes are a permutation of 0..G^3-1
    idx = occ.dense_to_morton_index(8)
    assert torch.equal(idx.reshape(-1).sort().values, torch.arange(512))


def test_bitfield_pack_unpack_round_trip_and_bit_order():
    g = torch.Generator().manual_seed(1)
    bits = torch.rand(8 * 64, generator=g) > 0.5
    packed = occ.packbits(bits)
    assert packed.dtype == torch.uint8 and packed.shape == (64,)
    assert torch.equal(occ.unpackbits(packed), bits)
    one = torch.zeros(16, dtype=torch.bool)
    one[8 + 3] = True  # cell 11 = byte 1, bit 3
    assert occ.packbits(one).tolist() == [0, 8]


def test_occupied_at_and_dilation():
    g = 8
    grid = torch.zeros(g**3)
    m = int(occ.morton3d(torch.tensor(2), torch.tensor(5), torch.tensor(7)))
    grid[m] = 1.0
    bf = occ.packbits(grid > 0.5)
    # the centre of cell (2, 5, 7) in [-1, 1]^3
    p = torch.tensor([[(2.5 / g) * 2 - 1, (5.5 / g) * 2 - 1, (7.5 / g) * 2 - 1]])
    assert occ.occupied_at(p, bf, g, 1.0).item()
    assert not occ.occupied_at(-p, bf, g, 1.0).item()
    dense = occ.morton_to_dense(occ.dilate6(grid, g), g)
    assert int((dense > 0.5).sum()) == 6  # the cell + 5 in-grid face neighbours (z = 7 is the last layer)
    assert dense[2, 5, 6] == 1 and dense[3, 5, 7] == 1 and dense[3, 6, 7] == 0


def test_compositor_matches_analytic_slab():
    sigma0, length, n = 3.0, 0.5, 500
    dt = length / n
    sigma = torch.full((1, n), sigma0, dtype=torch.float64)
    rgb = torch.full((1, n, 3), 0.25, dtype=torch.float64)
    t = torch.arange(n, dtype=torch.float64)[None] * dt
    out = composite(sigma, rgb, t, torch.ones(1, n, dtype=torch.bool), dt)
    expect = 1 - math.exp(-sigma0 * length)
    assert abs(out["weights_sum"].item() - expect) < 1e-9
    assert torch.allclose(out["image"], torch.full((1, 3), 0.25 * expect, dtype=torch.float64))
    # opaque: samples after transmittance < 1e-4 are dropped, the sum stays <= 1
    dense = composite(torch.full((1, n), 1e4, dtype=torch.float64), rgb, t, torch.ones(1, n, dtype=torch.bool), dt)
    assert dense["weights"][0, 2:].abs().max() == 0 and dense["weights_sum"].item() <= 1


def _pose():
    c2w = torch.eye(4)
    c2w[2, 3] = 0.76  # AD-NeRF style: camera on +z looking at the head
    return nerf_matrix_to_ngp(c2w)


def test_rays_hit_the_box_from_the_training_camera():
    pose = _pose()
    o, d = get_rays(pose, (40.0, 40.0, 16.0, 16.0), 32, 32)
    assert torch.allclose(d.norm(dim=-1), torch.ones(32 * 32))
    near, far = near_far_from_aabb(o, d, torch.tensor([-1, -0.5, -1, 1, 0.5, 1.0]))
    assert (far > near).all() and (near > 0).all()


def test_all_occupied_grid_gives_the_uniform_image():
    torch.manual_seed(0)
    m = ERNeRF(NetConfig(ind_num=4)).eval()
    m.testing = True
    with torch.no_grad():
        for enc in (m.encoder_xy, m.encoder_yz, m.encoder_xz):
            enc.embeddings.uniform_(-1, 1)
    m.density_bitfield.fill_(255)
    cond = Conditioning(m.encode_audio(torch.randn(8, 29, 16)), m.individual_codes[:1], torch.tensor([[0.2]]))
    bg = torch.rand(16 * 16, 3)
    intr = (20.0, 20.0, 8.0, 8.0)
    a = render_frame(m, _pose(), intr, 16, 16, cond, bg, marcher="occupancy", max_steps=4096)
    b = render_frame(m, _pose(), intr, 16, 16, cond, bg, marcher="uniform")
    assert torch.equal(a["image"], b["image"])
    assert a["weights_sum"].max() > 0.05  # something was actually rendered


def test_occupancy_marcher_keeps_only_occupied_cells_and_caps_samples():
    g, dt = 128, step_size()
    pose = _pose()
    o, d = get_rays(pose, (40.0, 40.0, 16.0, 16.0), 32, 32)
    near, far = near_far_from_aabb(o, d, torch.tensor([-1, -0.5, -1, 1, 0.5, 1.0]))
    uni = march_uniform(near, far, dt)
    grid = torch.zeros(g**3, dtype=torch.bool)
    cells = occ.dense_to_morton_index(g)[40:90, 40:90, 40:90].reshape(-1)
    grid[cells] = True  # a cube in the middle
    s = march_occupancy(o, d, near, far, occ.packbits(grid), g, 1.0, dt, max_steps=16)
    assert s.t.shape[1] <= 16 and s.count > 0
    pts = (o[:, None] + d[:, None] * s.t[..., None])[s.mask]
    assert occ.occupied_at(pts, occ.packbits(grid), g, 1.0).all()
    assert s.count < int(uni.mask.sum())
