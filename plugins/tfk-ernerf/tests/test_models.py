"""Encoders and networks: the grid index maths, SH/frequency closed forms, original checkpoint keys."""

from __future__ import annotations

import math

import pytest
import torch
from tfk_ernerf.models.encoders import FreqEncoder, GridEncoder, grid_reference, level_layout, sh_encode
from tfk_ernerf.models.network import ERNeRF, NetConfig

HEAD_LEVELS = [(64, 4232), (78, 6248), (94, 9032), (113, 13000)] + [(None, 16384)] * 8


def test_head_grid_layout_matches_the_original():
    enc = GridEncoder(2, 12, 1, 64, 14, 512)
    rows = [int(enc.offsets[i + 1] - enc.offsets[i]) for i in range(12)]
    assert rows == [r for _, r in HEAD_LEVELS]
    assert enc.embeddings.shape == (163584, 1)
    assert enc.offsets.dtype == torch.int32
    for level, (res, _) in enumerate(HEAD_LEVELS):
        _, r, _, _, hashed = enc.level_params(level)
        assert hashed == (level >= 4)
        if res is not None:
            assert r == res
    assert math.isclose(enc.per_level_scale, 2 ** (3 / 11))


def test_torso_tiled_grid_has_555520_rows_and_never_hashes():
    enc = GridEncoder(2, 16, 2, 16, 16, 2048, gridtype="tiled")
    assert enc.embeddings.shape == (555520, 2)
    assert not any(enc.level_params(i)[4] for i in range(16))
    assert level_layout(2, 16, 16, 16, 2048)[1][-1] == 555520


@pytest.mark.parametrize("gridtype", ["hash", "tiled"])
def test_grid_matches_scalar_reference_including_out_of_range(gridtype):
    torch.manual_seed(0)
    enc = GridEncoder(2, 12, 1, 64, 14, 512, gridtype=gridtype).double()
    with torch.no_grad():
        enc.embeddings.uniform_(-1, 1)
    pts = torch.rand(40, 2) * 2.2 - 1.1  # some outside [-1, 1]
    pts[0] = torch.tensor([1.0, -1.0])  # on the boundary: inside
    out = enc(pts.double(), bound=1.0)
    for p, o in zip(pts.double().tolist(), out, strict=True):
        ref = torch.tensor(grid_reference(enc, p, 1.0), dtype=torch.float64)
        assert torch.allclose(o, ref, atol=1e-9), p
        if any(abs(c) > 1 for c in p):
            assert (o == 0).all()


def test_grid_dense_level_equals_bilinear_interpolation():
    enc = GridEncoder(2, 2, 1, 4, 14, 8)  # level 0 dense: scale 3, R = 4, (R+1)^2 = 25 <= 32 rows
    assert int(enc.offsets[1]) == 32
    with torch.no_grad():
        enc.embeddings[:32] = torch.arange(32, dtype=torch.float32)[:, None]
    # value at corner (x, y) is x + 5 y (row-major with stride R+1): linear, so bilinear is exact
    x = torch.tensor([[0.1, -0.3]])
    u = (x + 1) / 2
    pos = u * 3 + 0.5
    expect = pos[0, 0] + 5 * pos[0, 1]
    assert torch.allclose(enc(x)[0, 0], expect, atol=1e-5)


def test_grid_gradcheck():
    torch.manual_seed(1)
    enc = GridEncoder(2, 3, 2, 4, 5, 16).double()  # small: dense and hashed levels
    assert enc.level_params(0)[4] is False and enc.level_params(2)[4] is True
    x = (torch.rand(6, 2, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(True)

    def f(xx, e):
        return torch.func.functional_call(enc, {"embeddings": e}, (xx,))

    e0 = enc.embeddings.detach().clone().uniform_(-1, 1).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x, e0), eps=1e-6, atol=1e-5)


def test_sh_and_frequency_closed_forms():
    d = torch.nn.functional.normalize(torch.randn(5, 3, dtype=torch.float64), dim=-1)
    x, y, z = d.unbind(-1)
    sh = sh_encode(d)
    assert sh.shape == (5, 16)
    assert torch.allclose(sh[:, 0], torch.full_like(x, 0.28209479177387814))
    assert torch.allclose(sh[:, 3], -0.4886025119029199 * x)
    assert torch.allclose(sh[:, 6], 0.94617469575755997 * z * z - 0.31539156525252005)
    assert torch.allclose(sh[:, 10], 2.890611442640554 * x * y * z)
    assert torch.allclose(sh[:, 15], 0.5900435899266435 * x * (-x * x + 3 * y * y))
    # orthonormality of the real SH basis (Monte Carlo over the sphere)
    g = torch.Generator().manual_seed(0)
    u = torch.nn.functional.normalize(torch.randn(200000, 3, generator=g, dtype=torch.float64), dim=-1)
    gram = sh_encode(u).T @ sh_encode(u) / u.shape[0] * 4 * math.pi
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=0.05)
    fe = FreqEncoder(2, 3)
    v = torch.tensor([[0.3, -0.7]])
    out = fe(v)
    assert out.shape == (1, 2 + 2 * 2 * 3) == (1, fe.output_dim)
    assert torch.allclose(out[0, :2], v[0])
    assert torch.allclose(out[0, 2:4], torch.sin(v[0]))
    assert torch.allclose(out[0, 4:6], torch.cos(v[0]))
    assert torch.allclose(out[0, 10:12], torch.sin(4 * v[0]))
    assert torch.allclose(out[0, 12:14], torch.cos(4 * v[0]))


HEAD_KEYS = {
    "aabb_train": (6,),
    "aabb_infer": (6,),
    "individual_codes": (10000, 4),
    "density_grid": (1, 128**3),
    "density_bitfield": (128**3 // 8,),
    "step_counter": (16, 2),
    "audio_net.encoder_conv.0.weight": (32, 29, 3),
    "audio_net.encoder_conv.0.bias": (32,),
    "audio_net.encoder_conv.2.weight": (32, 32, 3),
    "audio_net.encoder_conv.4.weight": (64, 32, 3),
    "audio_net.encoder_conv.6.weight": (64, 64, 3),
    "audio_net.encoder_fc1.0.weight": (64, 64),
    "audio_net.encoder_fc1.2.weight": (32, 64),
    "audio_att_net.attentionConvNet.0.weight": (16, 32, 3),
    "audio_att_net.attentionConvNet.8.weight": (1, 2, 3),
    "audio_att_net.attentionNet.0.weight": (8, 8),
    "encoder_xy.embeddings": (163584, 1),
    "encoder_xy.offsets": (13,),
    "eye_att_net.net.0.weight": (16, 36),
    "eye_att_net.net.1.weight": (1, 16),
    "sigma_net.net.0.weight": (64, 69),
    "sigma_net.net.2.weight": (65, 64),
    "color_net.net.0.weight": (64, 84),
    "color_net.net.1.weight": (3, 64),
    "unc_net.net.0.weight": (32, 36),
    "aud_ch_att_net.net.0.weight": (64, 36),
    "aud_ch_att_net.net.1.weight": (32, 64),
}
TORSO_KEYS = {
    "anchor_points": (3, 4),
    "individual_codes_torso": (10000, 8),
    "density_grid_torso": (128**2,),
    "torso_deform_net.net.0.weight": (32, 84),
    "torso_deform_net.net.2.weight": (2, 32),
    "torso_encoder.embeddings": (555520, 2),
    "torso_encoder.offsets": (17,),
    "torso_net.net.0.weight": (32, 116),
    "torso_net.net.2.weight": (4, 32),
}


def _n_trainable(m):
    return sum(p.numel() for p in m.parameters())


def test_head_and_torso_keys_and_parameter_counts():
    head = ERNeRF(NetConfig())
    sd = head.state_dict()
    for k, shape in HEAD_KEYS.items():
        assert tuple(sd[k].shape) == shape, k
    assert not any(k.startswith("torso") for k in sd)
    assert _n_trainable(head) == 587989
    assert _n_trainable(ERNeRF(NetConfig(audio_in_dim=1024))) == 683509
    torso = ERNeRF(NetConfig(torso=True))
    tsd = torso.state_dict()
    for k, shape in {**HEAD_KEYS, **TORSO_KEYS}.items():
        assert tuple(tsd[k].shape) == shape, k


def test_forward_shapes_and_test_mode_uncertainty():
    torch.manual_seed(0)
    m = ERNeRF(NetConfig())
    a = torch.randn(8, 29, 16)
    enc_a = m.encode_audio(a)
    assert enc_a.shape == (1, 32)
    x = torch.rand(10, 3) * 2 - 1
    d = torch.nn.functional.normalize(torch.randn(10, 3), dim=-1)
    out = m(x, d, enc_a, m.individual_codes[:1], torch.tensor([[0.3]]))
    assert out["sigma"].shape == (10,) and out["rgb"].shape == (10, 3)
    assert ((out["rgb"] >= -0.001) & (out["rgb"] <= 1.001)).all()
    m.testing = True
    out = m(x, d, enc_a, m.individual_codes[:1], torch.tensor([[0.3]]))
    assert torch.allclose(out["uncertainty"], torch.full((10,), math.log(2)))
    hub = ERNeRF(NetConfig(audio_in_dim=1024))
    assert hub.encode_audio(torch.randn(8, 1024, 2)).shape == (1, 32)
