"""Deep3DFaceRecon: checkpoint key/shape contract, POS alignment, coefficient files, the fitting substitute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfk.errors import InvalidArtifact
from tfk.tdmm.deep3d import (
    N_PARAMS,
    ReconNet,
    align_image,
    align_landmarks,
    expected_state_shapes,
    extract_5p,
    load_recon_net,
    read_video_coeffs,
    semantics_73,
    split_coeff,
    validate_checkpoint,
    write_frame_coeffs,
    write_video_coeffs,
)


def test_state_dict_matches_the_published_epoch20_layout():
    shapes = expected_state_shapes()
    heads = {f"final_layers.{i}.weight": (d, 2048, 1, 1) for i, d in enumerate((80, 64, 80, 3, 27, 2, 1))}
    for k, v in heads.items():
        assert shapes[k] == v and shapes[k.replace("weight", "bias")] == (v[0],)
    assert "final_layers.7.weight" not in shapes and not any(k.startswith("backbone.fc") for k in shapes)
    assert shapes["backbone.conv1.weight"] == (64, 3, 7, 7)
    assert shapes["backbone.layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert shapes["backbone.layer2.0.conv2.weight"] == (128, 128, 3, 3)  # stride on the 3×3 (torchvision v1.5)
    assert shapes["backbone.layer4.2.bn3.running_var"] == (2048,)
    assert shapes["backbone.bn1.num_batches_tracked"] == ()
    blocks = {k.split(".")[1] + "." + k.split(".")[2] for k in shapes if k.startswith("backbone.layer")}
    assert len(blocks) == 3 + 4 + 6 + 3
    assert sum(p.numel() for p in ReconNet().parameters()) == N_PARAMS == 24_034_625


def test_checkpoint_round_trip_and_rejection(tmp_path):
    net = ReconNet()
    torch.nn.init.normal_(net.final_layers[3].weight, std=0.01)
    ckpt = {"net_recon": net.state_dict(), "opt_00": {}, "sched_00": {}, "epoch": 20}
    torch.save(ckpt, tmp_path / "epoch_20.pth")
    validate_checkpoint(tmp_path / "epoch_20.pth")
    loaded = load_recon_net(tmp_path / "epoch_20.pth")
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        out = loaded(x)
        ref = net.eval()(x)
    assert out.shape == (2, 257) and torch.allclose(out, ref)
    assert split_coeff(out)["angle"].shape == (2, 3)
    bad = dict(ckpt["net_recon"])
    bad.pop("final_layers.6.bias")
    torch.save({"net_recon": bad}, tmp_path / "bad.pth")
    with pytest.raises(InvalidArtifact, match="missing"):
        validate_checkpoint(tmp_path / "bad.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(InvalidArtifact):
        validate_checkpoint(tmp_path / "junk.pth")


def test_pos_alignment_maps_the_reference_points_to_the_canonical_crop():
    rng = np.random.default_rng(0)
    lm3d = rng.normal(size=(5, 3)) * np.array([0.4, 0.4, 0.1])
    s, t = 180.0, np.array([300.0, 200.0])
    # a y-up image projection of the reference points, then converted to y-down pixels of a 640x480 image
    xy_up = lm3d[:, :2] * s + t
    lm = np.column_stack((xy_up[:, 0], 480 - 1 - xy_up[:, 1]))
    tp, lm_c, _ = align_landmarks(lm, 640, 480, lm3d)
    assert tp[0] == 640 and tp[1] == 480
    assert tp[2] == pytest.approx(102.0 / s, rel=1e-6)
    assert np.allclose(tp[3:], t, atol=1e-6)
    # in the crop the points sit at 102·X + 112 (y up), whatever the original position and scale
    assert np.allclose(lm_c, lm3d[:, :2] * 102.0 + 112.0, atol=1.0)
    img = np.zeros((480, 640, 3), np.uint8)
    tp2, crop, _ = align_image(img, lm, lm3d)
    assert crop.shape == (224, 224, 3) and np.allclose(tp2, tp)
    lm68 = np.zeros((68, 2))
    lm68[[36, 39, 42, 45, 30, 48, 54]] = [[0, 0], [2, 0], [4, 0], [6, 0], [3, 2], [1, 4], [5, 4]]
    assert np.allclose(extract_5p(lm68), [[1, 0], [5, 0], [3, 2], [1, 4], [5, 4]])


def test_coefficient_files(tmp_path):
    n = 4
    coeff = np.random.default_rng(0).normal(size=(n, 257)).astype(np.float32)
    tp = np.tile(np.array([512, 512, 0.5, 256, 250], np.float32), (n, 1))
    p = write_video_coeffs(tmp_path / "clip.mat", coeff, tp, source="fit")
    back = read_video_coeffs(p)
    assert back["coeff"].shape == (n, 257) and back["transform_params"].shape == (n, 5)
    assert back["source"] == "fit" and np.allclose(back["coeff"], coeff)
    sem = semantics_73(coeff, tp)
    assert sem.shape == (n, 73) and np.allclose(sem[:, :64], coeff[:, 80:144]) and np.allclose(sem[:, 70:], tp[:, 2:])
    paths = write_frame_coeffs(tmp_path / "frames", coeff, source="deep3d")
    assert [q.name for q in paths] == [f"frame{k}.mat" for k in range(n)]
    from scipy.io import loadmat

    m = loadmat(paths[2])
    assert m["coeff"].shape == (1, 257) and m["lm_5p"].shape == (5, 2)


def test_fit_substitute_recovers_pose_in_the_257_layout(deep3d_model, synthetic_bfm, tmp_path):
    from scipy.io import loadmat

    from tfk.tdmm.fit257 import CAMERA, compute_coeffs, write_coeffs

    m = deep3d_model
    lm3d = extract_5p(loadmat(synthetic_bfm["similarity_Lm3D_all.mat"])["lm"])
    n = 3
    angle = torch.tensor([[0.1, -0.25, 0.05], [0.0, 0.1, -0.05], [-0.1, 0.3, 0.0]])
    exp = torch.zeros(n, 64)
    exp[:, 0] = torch.tensor([0.5, -0.5, 1.0])
    trans = torch.tensor([[0.05, -0.02, 0.3], [0.0, 0.03, 0.0], [-0.04, 0.0, -0.2]])
    with torch.no_grad():
        v = m.vertices(torch.zeros(n, 80), exp, angle, trans)
        lms = CAMERA.project(v[:, m.keypoints]).numpy() * 2.0 + 40.0  # a 528² frame, face twice as large
    frames = np.full((n, 528, 528, 3), 120, np.uint8)
    res = compute_coeffs(frames, lms, method="fit", face_model=m, lm3d=lm3d, iters=300, photo_iters=5)
    assert res.source == "fit" and res.coeff.shape == (n, 257) and res.trans_params.shape == (n, 5)
    got = torch.as_tensor(res.coeff[:, 224:227])
    from tfk.tdmm.camera import deep3d_rotation, rotation_angle_deg

    err = rotation_angle_deg(deep3d_rotation(got), deep3d_rotation(angle))
    assert float(err.max()) < 3.0
    out = write_coeffs(res, tmp_path / "coeffs.mat")
    assert read_video_coeffs(out[0])["source"] == "fit"
