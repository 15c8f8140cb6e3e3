"""Architecture fidelity: parameter counts of the published configurations (meta device), key layouts, strict
loads of random-init checkpoints written in the published file layouts, clear errors for wrong files."""

from __future__ import annotations

import pytest
import torch
from tfk_styleheat.models import checkpoint as ck
from tfk_styleheat.models.calibrator import CalibrationNet
from tfk_styleheat.models.flow import flow_to_deformation, warp
from tfk_styleheat.models.sadtalker import Audio2Exp, Audio2Pose
from tfk_styleheat.models.stylegan2 import Discriminator, Generator
from tfk_styleheat.models.styleheat import StyleHEAT
from tfk_styleheat.models.warper import VideoWarper

from tfk.errors import InvalidArtifact


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def published():
    with torch.device("meta"):
        return {"model": StyleHEAT(), "d": Discriminator(256), "exp": Audio2Exp(), "pose": Audio2Pose()}


def test_parameter_counts_match_the_published_networks(published):
    m = published["model"]
    g = m.generator
    assert _n(g.stylegan) == 30_370_060
    assert _n(g.e4e_encoder) == 267_136_704
    assert _n(g.hfgi_aligner) == 596_801
    assert _n(g.hfgi_encoder) == 5_647_344
    assert _n(m.video_warper) == 13_428_802
    assert _n(m.video_warper.mapping_net) == 721_664
    assert _n(m.calibrator) == 30_492_672
    assert _n(published["d"]) == 28_864_129
    assert _n(published["exp"].netG) == 2_849_664
    assert _n(published["pose"]) == 11_251_897


def test_key_layouts(published):
    g_sd = published["model"].generator.stylegan.state_dict()
    assert len(g_sd) == 171 and next(iter(g_sd)) == "style.1.weight"
    assert "noises.noise_16" in g_sd and "convs.0.conv.blur.kernel" in g_sd and "to_rgbs.0.upsample.kernel" in g_sd
    assert g_sd["convs.6.conv.weight"].shape == (1, 512, 512, 3, 3)
    visual = [k for k in published["model"].state_dict() if k.startswith(("video_warper.", "calibrator."))]
    assert len(visual) == 318
    assert "video_warper.mapping_net.first.0.weight" in visual and "calibrator.conv_body_first.0.weight" in visual
    assert "video_warper.warping_net.hourglass.decoder.decoder4.conv_s.weight" in visual
    e = published["model"].generator.e4e_encoder.encoder.state_dict()
    assert "body.23.res_layer.5.fc2.weight" in e and "styles.17.linear.weight" in e and "latlayer2.weight" in e
    p = published["pose"].state_dict()
    assert "netG.decoder.MLP.sigmoid" not in p and "netG.decoder.MLP.L1.weight" in p and "netD_motion.seq.3.bias" in p
    assert "audio_encoder.audio_encoder.12.conv_block.1.running_var" in p
    assert "netG.audio_encoder.0.conv_block.0.weight" in published["exp"].state_dict()


def test_strict_load_roundtrip_in_published_file_layouts(tmp_path):
    torch.manual_seed(0)
    m = StyleHEAT(size=64, narrow=1 / 32, style_dim=16)
    g = m.generator
    torch.save(g.stylegan.state_dict(), tmp_path / "StyleGAN_e4e.pth")
    torch.save(
        {"encoder": g.e4e_encoder.encoder.state_dict(), "latent_avg": torch.randn(g.stylegan.n_latent, 16)},
        tmp_path / "Encoder_e4e.pth",
    )
    torch.save({"aligner": g.hfgi_aligner.state_dict(), "encoder": g.hfgi_encoder.state_dict()}, tmp_path / "hfgi.pth")
    visual = {k: v for k, v in m.state_dict().items() if not k.startswith("generator.")}
    torch.save({"net_G_ema": visual, "net_G": visual}, tmp_path / "StyleHEAT_visual.pt")
    m2 = StyleHEAT(size=64, narrow=1 / 32, style_dim=16)
    ck.load_stylegan(m2.generator.stylegan, tmp_path / "StyleGAN_e4e.pth")
    ck.load_e4e(m2.generator.e4e_encoder, tmp_path / "Encoder_e4e.pth")
    ck.load_hfgi(m2.generator.hfgi_aligner, m2.generator.hfgi_encoder, tmp_path / "hfgi.pth")
    ck.load_visual(m2, tmp_path / "StyleHEAT_visual.pt")
    a, b = m.state_dict(), m2.state_dict()
    for k in a:
        if k != "generator.e4e_encoder.latent_avg":
            assert torch.equal(a[k], b[k]), k
    # a PIRender / stage-1 warper checkpoint (``warpping_net`` spelling) loads into the warper
    pir = {k.replace("warping_net.", "warpping_net."): v for k, v in m.video_warper.state_dict().items()}
    torch.save({"net_G_ema": pir}, tmp_path / "pirender.pth")
    w = VideoWarper(narrow=1 / 32)
    ck.load_warper(w, tmp_path / "pirender.pth")
    assert all(torch.equal(v, w.state_dict()[k]) for k, v in m.video_warper.state_dict().items())


def test_wrong_files_fail_with_one_line_errors(tmp_path):
    g = Generator(size=32, style_dim=8, narrow=1 / 64)
    sd = g.state_dict()
    sd.pop("noises.noise_0")
    torch.save(sd, tmp_path / "g.pth")
    with pytest.raises(InvalidArtifact, match=r"1 missing .*noises\.noise_0"):
        ck.load_stylegan(Generator(size=32, style_dim=8, narrow=1 / 64), tmp_path / "g.pth")
    torch.save({"net_G_ema": {"foo.weight": torch.zeros(1)}}, tmp_path / "v.pt")
    with pytest.raises(InvalidArtifact, match="unexpected keys"):
        ck.load_visual(StyleHEAT(size=64, narrow=1 / 32, style_dim=16), tmp_path / "v.pt")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidArtifact, match="not a loadable"):
        ck.load_stylegan(g, tmp_path / "junk.pth")
    d = Discriminator(32, narrow=1 / 64)
    torch.save({"params": d.state_dict()}, tmp_path / "d.pth")
    ck.load_discriminator(Discriminator(32, narrow=1 / 64), tmp_path / "d.pth")


def test_generator_hooks():
    torch.manual_seed(0)
    g = Generator(size=128, style_dim=16, narrow=1 / 32).eval()
    w = torch.randn(2, g.n_latent, 16)
    with torch.no_grad():
        plain, _, f = g(w)
        assert f.shape == (2, g.feature_channels, 64, 64)
        same, _, _ = g(w, f_condition=f)
        torch.testing.assert_close(same, plain)
        rc = [torch.full((2, g.feature_channels, 64, 64), 5.0) for _ in range(6)]  # pairs 8/16/32 never act
        torch.testing.assert_close(
            g(w, refining_condition=rc + [torch.zeros(2, g.feature_channels, 64, 64)] * 2)[0], plain
        )
        rc8 = [*rc, torch.full((2, g.feature_channels, 64, 64), 0.5), torch.zeros(2, g.feature_channels, 64, 64)]
        assert not torch.allclose(g(w, refining_condition=rc8)[0], plain)
        cond = (torch.zeros(2, g.feature_channels, 64, 64), torch.zeros(2, g.feature_channels, 64, 64))
        torch.testing.assert_close(g(w, inversion_condition=cond)[0], plain)


def test_flow_keeps_the_original_align_corners_convention():
    x = torch.arange(64.0).repeat(64, 1)[None, None]
    zero = flow_to_deformation(torch.zeros(1, 2, 64, 64))
    out = warp(x, zero)
    assert not torch.allclose(out, x)  # align_corners=False: a zero flow is not an identity (as trained)
    torch.testing.assert_close(out[..., 20:40, 20:40], x[..., 20:40, 20:40], atol=0.6, rtol=0)
    big = warp(torch.ones(1, 3, 256, 256), zero)  # 64² deformation resized to 256²
    assert big.shape == (1, 3, 256, 256)


def test_calibrator_shapes():
    c = CalibrationNet(narrow=1 / 16, descriptor_nc=16, style_channels=32)
    out = c(torch.randn(1, 512, 64, 64), torch.randn(1, 16, 1))
    assert [o.shape[-1] for o in out] == [8, 8, 16, 16, 32, 32, 64, 64] and out[-1].shape[1] == 32
