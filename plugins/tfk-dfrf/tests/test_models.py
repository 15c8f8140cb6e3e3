"""DFRF networks: strict loading of official-layout checkpoints, encoders and fusion against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from tfk.errors import InvalidArtifact


def test_official_checkpoint_loads_strictly(official_ckpt):
    from tfk_dfrf.models.dfrf import CHECKPOINT_KEYS, load_dfrf

    model, ck = load_dfrf(official_ckpt)
    assert set(CHECKPOINT_KEYS) <= set(ck) and len(CHECKPOINT_KEYS) == 11
    assert torch.equal(
        model.coarse.nerf_model.pts_linears[5].weight, ck["network_fn_state_dict"]["nerf_model.pts_linears.5.weight"]
    )
    assert torch.equal(
        model.fine.nerf_model.rgb_linear.bias, ck["network_fine_state_dict"]["nerf_model.rgb_linear.bias"]
    )
    assert torch.equal(model.feature_extractor.conv1[0].weight, ck["unet_state_dict"]["conv1.0.weight"])
    assert torch.equal(model.position_warp.mlp[4].weight, ck["position_warp_state_dict"]["mlp.4.weight"])
    assert torch.equal(
        model.audattnet.attentionNet[0].weight, ck["network_audattnet_state_dict"]["attentionNet.0.weight"]
    )
    # the shared slot attention ends with the fine network's copy, as in the original load order
    assert torch.equal(model.slot_att.fc7[0].weight, ck["network_fine_state_dict"]["slot_att.fc7.0.weight"])
    assert model.coarse.slot_att is model.fine.slot_att
    # the original optimizer states load into optimizers over the same parameter order
    opt = torch.optim.Adam(model.main_parameters(), lr=5e-4)
    opt.load_state_dict(ck["optimizer_state_dict"])
    torch.optim.Adam(model.audnet.parameters()).load_state_dict(ck["optimizer_aud_state_dict"])
    torch.optim.Adam(model.audattnet.parameters()).load_state_dict(ck["optimizer_audatt_state_dict"])


def test_tfk_checkpoint_round_trip_keeps_the_original_layout(tmp_path, official_ckpt):
    from tfk_dfrf.models.dfrf import CHECKPOINT_KEYS, checkpoint_dict, load_dfrf, read_checkpoint, save_checkpoint

    model, ck = load_dfrf(official_ckpt)
    out = save_checkpoint(checkpoint_dict(model, 12, extra={"note": 1}), tmp_path / "000013_head.tar")
    back = read_checkpoint(out)
    assert set(back) == {*CHECKPOINT_KEYS, "tfk"}
    for key in ("network_fn_state_dict", "attention_state_dict", "unet_state_dict"):
        assert back[key].keys() == ck[key].keys()
        assert all(torch.equal(back[key][k], ck[key][k]) for k in ck[key])


def test_bad_checkpoints_fail_with_one_line(tmp_path, official_writer):
    from tfk_dfrf.models.dfrf import load_dfrf

    ck = official_writer(tmp_path / "a.tar")
    del ck["unet_state_dict"]
    torch.save(ck, tmp_path / "b.tar")
    with pytest.raises(InvalidArtifact, match="missing unet_state_dict"):
        load_dfrf(tmp_path / "b.tar")
    ck = official_writer(tmp_path / "c.tar")
    ck["unet_state_dict"] = {
        "conv1.0.weight": torch.zeros(64, 33, 3, 3),
        **{k: v for k, v in ck["unet_state_dict"].items() if k != "conv1.0.weight"},
    }
    torch.save(ck, tmp_path / "c.tar")
    with pytest.raises(InvalidArtifact, match=r"conv1.0.weight is \(64, 33, 3, 3\)"):
        load_dfrf(tmp_path / "c.tar")
    (tmp_path / "d.tar").write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidArtifact):
        load_dfrf(tmp_path / "d.tar")


def test_finetune_load_reinitialises_the_warp(official_ckpt):
    from tfk_dfrf.models.dfrf import DFRF, load_model, read_checkpoint

    ck = read_checkpoint(official_ckpt)
    m = DFRF()
    load_model(m, ck, official_ckpt, load_warp=False)
    assert m.position_warp.mlp[0].bias.abs().max() == 0
    assert m.position_warp.mlp[0].weight.std() < 5e-3


def test_positional_encoding_by_hand():
    from tfk_dfrf.models.embed import posenc

    x = torch.tensor([[0.3, -1.2, 2.0]])
    pe = posenc(x, 3)
    hand = [0.3, -1.2, 2.0]
    for k in range(3):
        f = 2.0**k
        hand += [math.sin(f * v) for v in (0.3, -1.2, 2.0)] + [math.cos(f * v) for v in (0.3, -1.2, 2.0)]
    assert pe.shape == (1, 21)
    assert torch.allclose(pe[0], torch.tensor(hand), atol=1e-6)


def test_projection_by_hand():
    from tfk_dfrf.render.geometry import intrinsic_matrix, project, world_to_camera

    c2w = torch.eye(4)[:3].clone()
    c2w[2, 3] = 2.0  # camera at z = 2 looking down -z
    h, w, f = 40, 60, 50.0
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.2, 0.1, 0.0], [5.0, 0.0, 0.0]])
    rc = project(pts, world_to_camera(c2w[None]), intrinsic_matrix(f, h, w), h, w)[0]
    # col = W/2 + f x / depth, row = H/2 - f y / depth (depth 2), clamped to the frame
    assert torch.allclose(rc[0], torch.tensor([20.0, 30.0]))
    assert torch.allclose(rc[1], torch.tensor([20.0 - 50 * 0.1 / 2, 30.0 + 50 * 0.2 / 2]))
    assert torch.allclose(rc[2], torch.tensor([20.0, 59.0]))


def test_feature_encoder_by_hand():
    from tfk_dfrf.models.embed import posenc
    from tfk_dfrf.models.reference import FeatureExtractor

    torch.manual_seed(0)
    fe = FeatureExtractor()
    img = torch.rand(1, 5, 6, 3)
    pose = torch.randn(1, 3, 4)
    out = fe.encode(img, pose)
    # pixel (2, 3): 3x3 neighbourhoods by hand (zero padding)
    x = torch.cat((posenc(img, 5), posenc(pose[:, :, 3], 5)[:, None, None].expand(1, 5, 6, 33)), -1)[0]
    xp = torch.zeros(7, 8, 66)
    xp[1:6, 1:7] = x
    c1 = torch.zeros(7, 8, 64)
    w1, b1 = fe.conv1[0].weight, fe.conv1[0].bias
    for i in range(5):
        for j in range(6):
            c1[i + 1, j + 1] = torch.relu(torch.einsum("ocyx,yxc->o", w1, xp[i : i + 3, j : j + 3]) + b1)
    w2, b2 = fe.conv2[0].weight, fe.conv2[0].bias
    c2 = torch.relu(torch.einsum("ocyx,yxc->o", w2, c1[2:5, 3:6]) + b2)
    assert torch.allclose(out[0, 2, 3], fe.fc(c2), atol=1e-5)


def test_bilinear_tap_at_a_pixel_centre_is_that_pixel():
    from tfk_dfrf.models.reference import sample_features

    fmap = torch.randn(2, 128, 8, 8)
    pix = torch.tensor([[[3.0, 5.0], [0.0, 7.0]], [[7.0, 0.0], [2.5, 2.0]]])
    out = sample_features(fmap, pix, 8)
    assert torch.allclose(out[0, 0], fmap[0, :, 3, 5], atol=1e-6)
    assert torch.allclose(out[1, 0], fmap[1, :, 7, 0], atol=1e-6)
    assert torch.allclose(out[1, 1], 0.5 * (fmap[1, :, 2, 2] + fmap[1, :, 3, 2]), atol=1e-6)


def _slot_attention_by_hand(sa, inputs, pe, slots):
    """One point at a time, every step written out."""
    out = []
    for b in range(inputs.shape[0]):
        x_in = inputs[b]
        rel = sa.fc6.weight @ torch.relu(sa.fc1[0].weight @ x_in.T + sa.fc1[0].bias[:, None]) + sa.fc6.bias[:, None]
        x = torch.cat((x_in, pe[b], rel.T), -1)
        x = torch.nn.functional.leaky_relu(x @ sa.fc7[0].weight.T + sa.fc7[0].bias, 0.01)
        x = torch.nn.functional.layer_norm(x, (128,), sa.norm_input.weight, sa.norm_input.bias)
        k, v = x @ sa.to_k.weight.T + sa.to_k.bias, x @ sa.to_v.weight.T + sa.to_v.bias
        s = slots[b].clone()
        for _ in range(sa.iters):
            prev = s
            sn = torch.nn.functional.layer_norm(s, (128,), sa.norm_slots.weight, sa.norm_slots.bias)
            q = sn @ sa.to_q.weight.T + sa.to_q.bias
            logits = (q @ k.T) / math.sqrt(128)  # [slots, inputs]
            attn = torch.softmax(logits, dim=0) + 1e-8  # competition between slots
            attn = attn / attn.sum(1, keepdim=True)
            upd = attn @ v
            gi = upd @ sa.gru.weight_ih.T + sa.gru.bias_ih
            gh = prev @ sa.gru.weight_hh.T + sa.gru.bias_hh
            r = torch.sigmoid(gi[:, :128] + gh[:, :128])
            z = torch.sigmoid(gi[:, 128:256] + gh[:, 128:256])
            n = torch.tanh(gi[:, 256:] + r * gh[:, 256:])
            s = (1 - z) * n + z * prev
            h = torch.nn.functional.layer_norm(s, (128,), sa.norm_pre_ff.weight, sa.norm_pre_ff.bias)
            s = s + sa.mlp[2](torch.relu(sa.mlp[0](h)))
        out.append(s.reshape(-1))
    return torch.stack(out)


def test_slot_attention_fusion_by_hand():
    from tfk_dfrf.models.reference import SlotAttention

    torch.manual_seed(1)
    sa = SlotAttention()
    inputs, pe = torch.randn(3, 4, 130), torch.randn(3, 4, 63)
    got = sa(inputs, pe, noise=False)
    want = _slot_attention_by_hand(sa, inputs, pe, sa.slots_mu.expand(3, 2, 128))
    assert torch.allclose(got, want, atol=1e-5)
    # seeded noise: the same seed gives the same output, the noise really moves the slots
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a, b = sa(inputs, pe, noise=True, generator=g1), sa(inputs, pe, noise=True, generator=g2)
    assert torch.equal(a, b) and not torch.allclose(a, got)
    slots = sa.initial_slots(3, True, torch.Generator().manual_seed(5))
    assert torch.allclose(a, _slot_attention_by_hand(sa, inputs, pe, slots), atol=1e-5)


def test_audio_networks_by_hand():
    from tfk_dfrf.models.audio import AudioAttNet, AudioNet, audio_codes

    torch.manual_seed(2)
    net, att = AudioNet(), AudioAttNet()
    feats = torch.randn(5, 16, 29)
    codes = net(feats)
    assert codes.shape == (5, 64)
    x = codes[:8] if codes.shape[0] >= 8 else torch.cat((codes, codes))[:8]
    y = att.attentionConvNet(x[:, :32].T[None])
    wts = torch.softmax(att.attentionNet[0](y.view(1, 8)), dim=1).view(8)
    assert torch.allclose(att(x), (wts[:, None] * x).sum(0), atol=1e-6)
    # smoothing: frame 0's window is rows [-4, 4): four zero rows, then rows 0..3
    sm = audio_codes(net, att, feats, smooth=True)
    win = torch.cat((torch.zeros(4, 16, 29), feats[:4]))
    assert torch.allclose(sm[0], att(net(win)), atol=1e-6)
    assert torch.allclose(audio_codes(net, att, feats, smooth=False), codes)
