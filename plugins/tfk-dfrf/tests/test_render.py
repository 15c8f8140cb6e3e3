"""Rendering: tfk ``exact`` equals the re-statement of the original loop; any frame and chunk size; seeded noise."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def scene():
    from tfk_dfrf.models.dfrf import DFRF
    from tfk_dfrf.testing_scene import look_pose

    torch.manual_seed(0)
    model = DFRF().eval()
    with torch.no_grad():
        for p in model.position_warp.parameters():
            p.normal_(0, 0.05)  # offsets of a few pixels, so the warp really moves the taps
        model.coarse.nerf_model.alpha_linear.bias.fill_(2.0)  # a visible, partly opaque volume
        model.fine.nerf_model.alpha_linear.bias.fill_(2.0)
    poses = torch.stack([look_pose(a) for a in (-6, -2, 2, 6)])[:, :3]
    return model, poses


def _frame(scene, h, w, quality, chunk, noise=False, seed=0, index=0):
    from tfk_dfrf.render.original_loop import render_frame_original
    from tfk_dfrf.render.renderer import References, Renderer
    from tfk_dfrf.testing_scene import look_pose, smooth_images

    model, poses = scene
    imgs, bc = smooth_images(4, h, w), smooth_images(1, h, w, seed=3)[0]
    c2w, aud, focal = look_pose(1.0, 2.0)[:3], torch.linspace(-1, 1, 64), 0.9 * max(h, w)
    refs = References(model, imgs, poses, focal)
    r = Renderer(model, refs, 0.6, 1.4, quality.with_chunk(chunk), noise=noise, seed=seed)
    out = r.render(c2w, aud, bc, focal, w / 2, h / 2, frame_index=index)

    def original():
        return render_frame_original(
            model, c2w, aud, bc, imgs, poses, focal, w / 2, h / 2, 0.6, 1.4, quality.n_samples, quality.n_importance
        )

    return out, original


@pytest.mark.parametrize(("h", "w", "chunk"), [(16, 16, 37), (12, 20, 1000)])
def test_exact_equals_the_original_loop(scene, h, w, chunk):
    from tfk_dfrf.render.renderer import Quality

    q = Quality(n_samples=8, n_importance=8)
    out, original = _frame(scene, h, w, q, chunk)
    ref = original()
    assert out.shape == (h, w, 3)
    assert (out - ref).abs().max().item() < 1e-4
    assert ref.std() > 0.01  # not a flat image


def test_early_termination_keeps_exact_within_bound(scene):
    import copy

    from tfk_dfrf.render.renderer import Quality

    model, poses = scene
    opaque = copy.deepcopy(model)
    with torch.no_grad():
        opaque.fine.nerf_model.alpha_linear.bias.fill_(60.0)  # rays saturate within a few samples
        opaque.coarse.nerf_model.alpha_linear.bias.fill_(60.0)
    q = Quality(n_samples=8, n_importance=16, segment=4)
    out, original = _frame((opaque, poses), 10, 10, q, 64)
    assert (out - original()).abs().max().item() < 1e-4
    full, _ = _frame((opaque, poses), 10, 10, Quality(n_samples=8, n_importance=16, term_eps=0.0), 64)
    assert (out - full).abs().max().item() < 1e-5


def test_slot_noise_is_seeded_per_frame(scene):
    from tfk_dfrf.render.renderer import Quality

    q = Quality(n_samples=6, n_importance=6)
    a, _ = _frame(scene, 8, 8, q, 50, noise=True, seed=1, index=4)
    b, _ = _frame(scene, 8, 8, q, 13, noise=True, seed=1, index=4)
    c, _ = _frame(scene, 8, 8, q, 50, noise=True, seed=2, index=4)
    d, _ = _frame(scene, 8, 8, q, 50, noise=False)
    assert torch.equal(a, _frame(scene, 8, 8, q, 50, noise=True, seed=1, index=4)[0])
    assert (a - c).abs().max() > 1e-5 and (a - d).abs().max() > 1e-5
    assert b.shape == a.shape


def test_fast_quality_is_close_to_exact(scene):
    from tfk_dfrf.render.renderer import Quality

    exact, _ = _frame(scene, 16, 16, Quality(n_samples=8, n_importance=8), 256)
    fast, _ = _frame(scene, 16, 16, Quality(n_samples=8, n_importance=4, scale=0.5, skip_empty=1e-3), 256)
    mse = ((fast.clamp(0, 1) - exact.clamp(0, 1)) ** 2).mean()
    assert fast.shape == exact.shape
    assert -10 * torch.log10(mse) > 20
    # the bf16 autocast path of fast on a GPU, exercised on the CPU
    amp, _ = _frame(scene, 16, 16, Quality(n_samples=8, n_importance=8, amp="on"), 256)
    assert -10 * torch.log10(((amp.clamp(0, 1) - exact.clamp(0, 1)) ** 2).mean()) > 30


@pytest.mark.parametrize("noise", [False, True])
def test_folded_slot_attention_equals_the_module(scene, noise):
    """The renderer's folded slot attention (tied slots without noise, the general form with it) equals
    ``SlotAttention.forward`` on the unfolded taps, with the same noise draws."""
    from tfk_dfrf.models.embed import posenc
    from tfk_dfrf.models.reference import sample_features
    from tfk_dfrf.render.renderer import References, Renderer
    from tfk_dfrf.testing_scene import smooth_images

    model, poses = scene
    h = w = 12
    refs = References(model, smooth_images(4, h, w), poses, 0.9 * w)
    r = Renderer(model, refs, 0.6, 1.4, noise=noise)
    g = torch.Generator().manual_seed(5)
    n = 64
    pix = torch.rand(4, n, 2, generator=g) * (h - 1)
    pe = posenc(torch.randn(n, 3, generator=g), 10)
    taps = sample_features(r.proj_chw, pix, h).permute(1, 0, 2).contiguous()
    pixi = pix.int().float().permute(1, 0, 2).contiguous()
    with torch.no_grad():
        fused = r._fuse(pe, taps, pixi, torch.Generator().manual_seed(9))
        local = torch.cat((sample_features(refs.fmap_chw, pix, h), pix.int().float()), -1)  # [R, n, 130]
        gen = torch.Generator().manual_seed(9)
        ref = model.slot_att(local.permute(1, 0, 2), pe[:, None].expand(-1, 4, -1), noise=noise, generator=gen)
    assert r.tied is (not noise)
    if r.tied:  # without noise the module's two slots are equal, and the renderer computes one of them
        assert torch.allclose(ref[:, :128], ref[:, 128:], atol=1e-5)
        fused = fused.repeat(1, 2)
    assert ref.std() > 0.1
    assert (fused - ref).abs().max().item() < 1e-5
