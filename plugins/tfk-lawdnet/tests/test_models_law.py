"""Properties of the generator, its Local Affine Warping layer and the training networks."""

from __future__ import annotations

import pytest
import torch
from tfk_lawdnet.models.discriminator import Discriminator
from tfk_lawdnet.models.lawdnet import LawDNet, LocalAffineWarp, crop_size, law_grid_layout, standard_grid
from tfk_lawdnet.models.syncnet import SyncNet, mouth_region
from tfk_lawdnet.models.vgg import Vgg19

from tfk.errors import InvalidArtifact


def _inputs(b=2, mouth=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, w = crop_size(mouth)
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 15, h, w, generator=g), torch.randn(b, 29, 5, generator=g)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return LawDNet(coarse_grid_size=8).eval()


def test_crop_sizes():
    assert [crop_size(m) for m in (64, 128, 256, 288)] == [(104, 80), (208, 160), (416, 320), (468, 360)]


def test_forward_shapes_at_mouth_64(net):
    seen = {}

    def hook(name):
        def fn(module, args, out):
            seen[name] = tuple(out.shape)

        return fn

    handles = [
        net.trans_conv.register_forward_hook(hook("trans")),
        net.audio_encoder.register_forward_hook(hook("audio")),
        net.cross_attention.register_forward_hook(hook("para")),
    ]
    with torch.no_grad():
        out = net(*_inputs())
    for h in handles:
        h.remove()
    assert out.shape == (2, 3, 104, 80) and out.min() >= 0 and out.max() <= 1
    assert seen == {"trans": (2, 128, 2, 2), "audio": (2, 128, 2), "para": (2, 256)}


def test_forward_at_release_size():
    torch.manual_seed(0)
    big = LawDNet().eval()
    with torch.inference_mode():
        out = big(*_inputs(1, 288))
    assert out.shape == (1, 3, 468, 360) and torch.isfinite(out).all()


def test_dead_first_branch_is_inert(net):
    x = _inputs()
    with torch.no_grad():
        ref = net(*x)
        net.compute_dead_layer = True
        same = net(*x)
        net.compute_dead_layer = False
        backup = {k: v.clone() for k, v in net.state_dict().items()}
        for name, p in net.named_parameters():
            if name.startswith(("lawLayer_list.0.", "appearance_conv_list.0.")):
                p.add_(torch.randn_like(p))
        perturbed = net(*x)
        net.load_state_dict(backup)
        net.lawLayer_list[1].radius_layer[0].bias.add_(1.0)  # the live branch does change the output
        changed = net(*x)
        net.load_state_dict(backup)
    assert torch.equal(ref, same) and torch.equal(ref, perturbed)
    assert not torch.allclose(ref, changed)


def test_gradients_reach_every_live_parameter(net):
    net.train()
    net.zero_grad()
    net(*_inputs()).square().mean().backward()
    no_grad = {n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
    net.zero_grad()
    net.eval()
    dead = {n for n, _ in net.named_parameters() if n.startswith(("lawLayer_list.0.", "appearance_conv_list.0."))}
    stubs = {n for n, _ in net.named_parameters() if ".norm" in n}
    assert no_grad == dead | stubs
    assert any(n.startswith("lawLayer_list.1.kpoints") for n, _ in net.named_parameters() if n not in no_grad)


def _identity_law(grid=4, channels=3, kpoints=2):
    torch.manual_seed(1)
    law = LocalAffineWarp(channels, kpoints, 256, grid)
    with torch.no_grad():
        law.similarity_params_layer[0].weight.zero_()
        law.similarity_params_layer[0].bias.zero_()
    return law


def test_zero_similarity_gives_identity_control_grid():
    law = _identity_law(grid=6)
    g = law.control_grid(torch.randn(2, 256))  # keypoints and radii stay random
    assert g.shape == (2, 3, 6, 6, 2)
    torch.testing.assert_close(g, standard_grid(6).unsqueeze(1).expand_as(g), atol=1e-6, rtol=0)


def test_grid_layout_permutation_on_a_4x4_toy():
    c, n = 3, 4
    grid = torch.arange(c * n * n * 2, dtype=torch.float32).view(1, c, n, n, 2)
    out = law_grid_layout(grid, (n, n))
    # independent derivation: output element (c, y, x, k) reads flat slot (2c+k, y, x) of a buffer whose
    # memory order is (channel, grid column, grid row, coordinate)
    expect = torch.empty_like(out)
    for ci in range(c):
        for y in range(n):
            for x in range(n):
                for k in range(2):
                    flat = ((2 * ci + k) * n + y) * n + x
                    cc, rem = divmod(flat, n * n * 2)
                    col, rem = divmod(rem, n * 2)
                    row, kk = divmod(rem, 2)
                    expect[0, ci, y, x, k] = grid[0, cc, row, col, kk]
    assert torch.equal(out, expect)
    ident = standard_grid(n).unsqueeze(1).expand(1, c, n, n, 2).contiguous()
    assert not torch.equal(law_grid_layout(ident, (n, n)), ident)  # the quirk: identity comes out scrambled


def test_constant_feature_stays_constant_under_identity_warp():
    law = _identity_law(grid=4, channels=3)
    feat = torch.full((2, 3, 9, 7), 0.75)
    out = law(feat, torch.randn(2, 256))
    torch.testing.assert_close(out, feat, atol=1e-6, rtol=0)


def test_3d_and_per_channel_sampling_agree():
    torch.manual_seed(2)
    law = LocalAffineWarp(8, 5, 256, 8)
    feat, para = torch.randn(2, 8, 13, 10), torch.randn(2, 256)
    a = law(feat, para)
    law.sample_3d = True
    b = law(feat, para)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_syncnet_discriminators_layouts():
    s = SyncNet()
    assert len(s.state_dict()) == 68 and sum(p.numel() for p in s.parameters()) == 3_277_121
    assert "face_encoder.face_conv.0.conv.weight" in s.state_dict()
    assert s(torch.rand(2, 15, 64, 64), torch.rand(2, 29, 9)).shape == (2, 1, 2, 2)
    crops = torch.rand(2, 15, 104, 80)
    assert mouth_region(crops, 64, 64).shape == (2, 15, 64, 64)
    for ch, n in ((3, 2_628_737), (15, 2_653_313)):
        d = Discriminator(ch)
        assert sum(p.numel() for p in d.parameters()) == n
        assert d(torch.rand(1, ch, 104, 80)).shape == (1, 1, 7, 4)


def test_vgg_loads_torchvision_layout(tmp_path):
    full = Vgg19()
    sd = {f"features.{k}": torch.randn_like(v) for k, v in full.features.state_dict().items()}
    sd.update({"features.30.weight": torch.zeros(1), "classifier.0.weight": torch.zeros(8, 8)})
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(sd, path)
    vgg = Vgg19(path)
    assert torch.equal(vgg.features[28].weight, sd["features.28.weight"])
    assert not any(p.requires_grad for p in vgg.parameters())
    feats = vgg(torch.rand(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    sd.pop("features.28.weight")
    torch.save(sd, path)
    with pytest.raises(InvalidArtifact):
        Vgg19(path)


@pytest.mark.parametrize("mouth", [288, 256])
def test_warp_grid_resize_is_torchvision_resize_at_released_sizes(mouth):
    """The original resizes the (B,2C,60,60) grid with ``torchvision.transforms.Resize((H,W))`` on a float
    tensor, i.e. ``interpolate(bilinear, align_corners=False, antialias=True)`` (torchvision >= 0.17), even
    when *up*sampling; the antialiased kernel's float32 weights differ from plain bilinear by ~4e-6 there."""
    import torch.nn.functional as F

    h, w = crop_size(mouth)
    fh, fw = h // 4, w // 4  # the LAW layers work on the 1/4-resolution reference feature
    torch.manual_seed(mouth)
    grid = torch.rand(1, 4, 60, 60, 2) * 2 - 1
    # the reference: the original's layout (memory read as (C, Gw, Gh, 2) -> (2C, Gh, Gw)), then Resize
    flat = grid.transpose(-1, -2).permute(0, 1, 4, 2, 3).reshape(1, 8, 60, 60)
    ref = F.interpolate(flat, size=(fh, fw), mode="bilinear", align_corners=False, antialias=True)
    ref = ref.view(1, 4, 2, fh, fw).permute(0, 1, 3, 4, 2)
    plain = F.interpolate(flat, size=(fh, fw), mode="bilinear", align_corners=False)
    assert (plain.view(1, 4, 2, fh, fw).permute(0, 1, 3, 4, 2) - ref).abs().max() > 1e-7  # the test can fail
    assert torch.equal(law_grid_layout(grid, (fh, fw)), ref)


def test_fast_control_grid_equals_the_reference_formula():
    """The rearranged control grid (CPU speed) against the plain formula, at the release grid of 60."""
    torch.manual_seed(1)
    law = LocalAffineWarp(256, 5, 256, 60).eval()
    para = torch.randn(2, 256)
    with torch.inference_mode():
        assert (law.control_grid(para) - law.control_grid_reference(para)).abs().max() <= 1e-5


def _eager_reference(net, src, ref, audio):
    """The generator as it ran before the CPU work: NCHW, references per frame, the plain control grid and
    the plain nearest-upsample-then-conv blocks."""
    import copy

    from tfk_lawdnet.models.lawdnet import NarrowConv2d, UpBlock2d

    old = copy.deepcopy(net)
    for law in old.lawLayer_list:
        law.control_grid = law.control_grid_reference
    for m in old.modules():
        if isinstance(m, UpBlock2d):
            m.subpixel = False
        if isinstance(m, NarrowConv2d):
            m.fast = False
    return old(src, ref, audio)


def test_subpixel_upsampling_equals_upsample_then_conv():
    import torch.nn.functional as F
    from tfk_lawdnet.models.lawdnet import upsample2x_conv3x3

    torch.manual_seed(2)
    conv = torch.nn.Conv2d(16, 8, 3, padding=1)
    x = torch.rand(2, 16, 13, 10)
    with torch.inference_mode():
        want = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
        assert (upsample2x_conv3x3(x, conv.weight, conv.bias) - want).abs().max() <= 1e-5
        xc = x.contiguous(memory_format=torch.channels_last)
        assert (upsample2x_conv3x3(xc, conv.weight, conv.bias) - want).abs().max() <= 1e-5


def test_narrow_output_conv_equals_conv2d():
    """The output conv's tap-GEMM form equals the plain convolution, at the borders too, in both layouts;
    with autograd on it is the plain convolution."""
    import torch.nn.functional as F
    from tfk_lawdnet.models.lawdnet import NarrowConv2d

    torch.manual_seed(4)
    conv = NarrowConv2d(12, 3, 7, padding=3)
    x = torch.rand(2, 12, 11, 9)
    want = F.conv2d(x, conv.weight, conv.bias, padding=3)
    with torch.inference_mode():
        for inp in (x, x.contiguous(memory_format=torch.channels_last)):
            got = conv(inp)
            assert got.shape == want.shape and (got - want).abs().max() <= 1e-5
    assert torch.equal(conv(x), want)  # autograd on: the plain path


def test_fast_inference_path_matches_eager_fp32(net):
    """Reference features once per clip + channels-last + the fast grid: <= 1e-5 from eager fp32."""
    import copy

    src, ref, audio = _inputs(b=3, mouth=64, seed=5)
    ref = ref[:1].expand(3, -1, -1, -1)  # one set of references for the whole clip, as in dubbing
    with torch.inference_mode():
        expected = _eager_reference(net, src, ref, audio)
        refs = net.encode_references(ref[:1])
        assert (net(src, None, audio, refs=refs) - expected).abs().max() <= 1e-5
        fast = copy.deepcopy(net).to(memory_format=torch.channels_last)
        cl = torch.channels_last
        refs_cl = fast.encode_references(ref[:1].contiguous(memory_format=cl)).to(cl)
        got = fast(src.contiguous(memory_format=cl), None, audio, refs=refs_cl)
        assert (got - expected).abs().max() <= 1e-5
        for b in (1, 2):  # the batch layout does not change a frame's output
            assert (
                fast(src[:b].contiguous(memory_format=cl), None, audio[:b], refs=refs_cl) - expected[:b]
            ).abs().max() <= 1e-5
