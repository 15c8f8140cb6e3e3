"""Renderer: analytic coverage, depth ordering, numerical gradients, SH lighting, camera."""

from __future__ import annotations

import math

import pytest
import torch

from tfk.tdmm.camera import PerspectiveCamera
from tfk.tdmm.render import interpolate, rasterize, render_mesh, sh_irradiance, vertex_normals


def disk(cx: float, cy: float, r: float, n: int = 720, z: float = 0.5):
    ang = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    rim = torch.stack((cx + r * ang.cos(), cy + r * ang.sin(), torch.full_like(ang, z)), -1)
    verts = torch.cat((torch.tensor([[cx, cy, z]], dtype=torch.float64), rim))
    faces = torch.stack((torch.zeros(n, dtype=torch.long), 1 + torch.arange(n), 1 + (torch.arange(n) + 1) % n), -1)
    return verts, faces


def quad(x0, y0, x1, y1, z):
    v = torch.tensor([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=torch.float64)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_disk_coverage_matches_its_area():
    verts, faces = disk(64.0, 60.0, 40.0)
    frags = rasterize(verts[None].float(), faces, (128, 128))
    covered = int(frags.mask.sum())
    assert covered == pytest.approx(math.pi * 40.0**2, rel=0.01)
    # exactly the pixel centres inside the circle (away from the rim)
    yy, xx = torch.meshgrid(torch.arange(128) + 0.5, torch.arange(128) + 0.5, indexing="ij")
    d = ((xx - 64) ** 2 + (yy - 60) ** 2).sqrt()
    assert bool(frags.mask[0][d < 39.5].all()) and not bool(frags.mask[0][d > 40.5].any())


def test_axis_aligned_square_covers_exact_pixels():
    v, f = quad(10.0, 20.0, 30.0, 25.0, 0.3)
    frags = rasterize(v[None].float(), f, (40, 40))
    expect = torch.zeros(40, 40, dtype=torch.bool)
    expect[20:25, 10:30] = True
    assert torch.equal(frags.mask[0], expect)


@pytest.mark.parametrize("near_first", [True, False])
def test_nearest_surface_wins(near_first):
    vn, fn = quad(5.0, 5.0, 25.0, 25.0, 0.2)  # near
    vf, ff = quad(15.0, 15.0, 35.0, 35.0, 0.7)  # far, overlapping
    parts = [(vn, fn, 1.0), (vf, ff, 0.0)] if near_first else [(vf, ff, 0.0), (vn, fn, 1.0)]
    verts = torch.cat([p[0] for p in parts])
    faces = torch.cat([parts[0][1], parts[1][1] + 4])
    colour = torch.cat([torch.full((4, 1), p[2], dtype=torch.float64) for p in parts])
    frags = rasterize(verts[None], faces, (40, 40))
    img = interpolate(colour[None], verts[None], faces, frags)[0, ..., 0]
    assert float(img[20, 20]) == pytest.approx(1.0)  # overlap: the near quad
    assert float(img[30, 30]) == pytest.approx(0.0)  # only the far quad
    assert bool(frags.mask[0, 30, 30]) and not bool(frags.mask[0, 38, 2])


def test_interpolation_is_barycentric_and_gradients_match_finite_differences():
    verts = torch.tensor([[2.3, 1.7, 0.5], [13.1, 3.2, 0.4], [6.4, 12.8, 0.6], [14.6, 13.9, 0.5]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    frags = rasterize(verts[None], faces, (16, 16))
    colour = torch.rand(1, 4, 3, dtype=torch.float64)
    # a linear attribute (x coordinate) interpolates to the pixel-centre x exactly
    img = interpolate(verts[None, :, :1], verts[None], faces, frags)[0, ..., 0]
    xs = torch.arange(16, dtype=torch.float64) + 0.5
    m = frags.mask[0]
    assert torch.allclose(img[m], xs.expand(16, 16)[m])

    pos = verts[None].clone().requires_grad_(True)
    col = colour.clone().requires_grad_(True)
    w = torch.rand(1, 16, 16, 3, dtype=torch.float64)

    def f(p, c):
        return (interpolate(c, p, faces, frags) * w).sum()

    assert torch.autograd.gradcheck(f, (pos, col), eps=1e-6, atol=1e-6)


def test_batches_are_independent():
    v1, f = quad(0.0, 0.0, 8.0, 8.0, 0.5)
    v2, _ = quad(8.0, 8.0, 16.0, 16.0, 0.5)
    frags = rasterize(torch.stack((v1, v2)).float(), f, (16, 16))
    assert int(frags.mask[0].sum()) == 64 and bool(frags.mask[0, 2, 2]) and not bool(frags.mask[0, 12, 12])
    assert int(frags.mask[1].sum()) == 64 and bool(frags.mask[1, 12, 12])


def test_offscreen_and_degenerate_triangles_are_ignored():
    verts = torch.tensor([[-50.0, -50, 0.5], [-40, -50, 0.5], [-45, -40, 0.5], [5, 5, 0.5], [5, 5, 0.5], [5, 5, 0.5]])
    frags = rasterize(verts[None], torch.tensor([[0, 1, 2], [3, 4, 5]]), (10, 10))
    assert not bool(frags.mask.any())


def test_sh_lighting_constant_band_and_direction():
    n = torch.nn.functional.normalize(torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]]), dim=-1)
    flat = sh_irradiance(n, torch.zeros(1, 27))
    assert torch.allclose(flat, torch.full_like(flat, 0.8 * math.pi / math.sqrt(4 * math.pi)))
    gamma = torch.zeros(1, 27)
    gamma[0, [2, 11, 20]] = 0.5  # band 2 (n_z) of every colour
    lit = sh_irradiance(n, gamma)
    assert bool((lit[0, 0] > flat[0, 0]).all()) and bool((lit[0, 1] < flat[0, 1]).all())


def test_render_mesh_perspective_sphere_and_colour_gradients():
    # octahedron-subdivided sphere of radius 1 at z = -5: its silhouette radius is f·r/sqrt(d²−r²)
    lat, lon = 40, 80
    th = torch.linspace(0, math.pi, lat)[:, None]
    ph = torch.linspace(0, 2 * math.pi, lon + 1)[:-1][None]
    v = torch.stack((th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos().expand(-1, lon)), -1).reshape(-1, 3)
    faces = []
    for i in range(lat - 1):
        for j in range(lon):
            a, b = i * lon + j, i * lon + (j + 1) % lon
            faces += [[a, a + lon, b], [b, a + lon, b + lon]]
    faces = torch.tensor(faces)
    verts = (v + torch.tensor([0.0, 0.0, -5.0]))[None]
    cam = PerspectiveCamera.adnerf(200.0, 128, 128)
    colors = torch.ones(1, v.shape[0], 3, requires_grad=True)
    img, mask = render_mesh(verts, faces, colors, cam, (128, 128))
    r_px = 200.0 / math.sqrt(24.0)
    assert float(mask.float().sum()) == pytest.approx(math.pi * r_px**2, rel=0.03)
    img.sum().backward()
    assert float(colors.grad.sum()) == pytest.approx(float(mask.sum()) * 3, rel=1e-4)
    normals = vertex_normals(verts, faces)
    assert torch.allclose(normals.norm(dim=-1), torch.ones(1, v.shape[0]), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    verts, faces = disk(30.0, 30.0, 20.0)
    cpu = rasterize(verts[None].float(), faces, (64, 64)).face_idx
    gpu = rasterize(verts[None].float().cuda(), faces.cuda(), (64, 64)).face_idx.cpu()
    assert torch.equal(cpu >= 0, gpu >= 0)
