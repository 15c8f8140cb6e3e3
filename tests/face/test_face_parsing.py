"""BiSeNet checkpoint layout, AD-NeRF colours, the landmark fallback, background plate."""

from __future__ import annotations

import numpy as np
import pytest

# Distinctive tensors of the published 79999_iter.pth (zllrunning/face-parsing.PyTorch layout).
PUBLISHED_SHAPES = {
    "cp.resnet.conv1.weight": (64, 3, 7, 7),
    "cp.resnet.layer1.0.conv1.weight": (64, 64, 3, 3),
    "cp.resnet.layer4.1.conv2.weight": (512, 512, 3, 3),
    "cp.resnet.layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "cp.arm16.conv.conv.weight": (128, 256, 3, 3),
    "cp.arm16.conv_atten.weight": (128, 128, 1, 1),
    "cp.arm32.conv.conv.weight": (128, 512, 3, 3),
    "cp.conv_head32.conv.weight": (128, 128, 3, 3),
    "cp.conv_head16.conv.weight": (128, 128, 3, 3),
    "cp.conv_avg.conv.weight": (128, 512, 1, 1),
    "ffm.convblk.conv.weight": (256, 256, 1, 1),
    "ffm.conv1.weight": (64, 256, 1, 1),
    "ffm.conv2.weight": (256, 64, 1, 1),
    "conv_out.conv.conv.weight": (256, 256, 3, 3),
    "conv_out.conv_out.weight": (19, 256, 1, 1),
    "conv_out16.conv.conv.weight": (64, 128, 3, 3),
    "conv_out16.conv_out.weight": (19, 64, 1, 1),
    "conv_out32.conv_out.weight": (19, 64, 1, 1),
}


def test_bisenet_matches_the_published_layout_and_loads_strictly(tmp_path):
    import torch

    from tfk.face.parsing import load_bisenet
    from tfk.face.parsing.bisenet import BiSeNet

    sd = BiSeNet().state_dict()
    for key, shape in PUBLISHED_SHAPES.items():
        assert tuple(sd[key].shape) == shape, key
    assert not [k for k in sd if k.startswith("fc")], "the ImageNet classifier must not be part of the model"
    rand = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in sd.items()}
    torch.save(rand, tmp_path / "79999_iter.pth")
    net = load_bisenet(tmp_path / "79999_iter.pth")
    assert torch.equal(net.state_dict()["ffm.conv1.weight"], rand["ffm.conv1.weight"])
    with torch.inference_mode():
        out = net(torch.zeros(1, 3, 512, 512))
    assert out.shape == (1, 19, 512, 512)
    del rand["ffm.conv1.weight"]
    torch.save(rand, tmp_path / "broken.pth")
    from tfk import errors

    with pytest.raises(errors.BadInput):
        load_bisenet(tmp_path / "broken.pth")


def test_adnerf_colour_convention():
    from tfk.face.parsing import adnerf_colour_mask, colour_mask_to_regions, labels_to_regions

    labels = np.array([[0, 1, 14, 16, 17]], np.uint8)
    assert labels_to_regions(labels).tolist() == [[0, 1, 2, 3, 1]]
    bgr = adnerf_colour_mask(labels)
    assert bgr[0, 0].tolist() == [255, 255, 255] and bgr[0, 1].tolist() == [255, 0, 0]
    assert bgr[0, 2].tolist() == [0, 255, 0] and bgr[0, 3].tolist() == [0, 0, 255]
    assert colour_mask_to_regions(bgr).tolist() == [[0, 1, 2, 3, 1]]


def test_landmark_fallback_gives_four_plausible_regions():
    from skimage import data

    from tfk.face import track_landmarks
    from tfk.face.parsing import landmark_parsing

    img = data.astronaut()
    lm = track_landmarks([img]).points[0]
    res = landmark_parsing(img, lm)
    assert res.quality == "fallback"
    r = res.regions
    nose = lm[30].astype(int)
    assert r[nose[1], nose[0]] == 1  # head at the nose
    below_chin = (int(lm[8, 0]), min(int(lm[8, 1]) + 12, r.shape[0] - 1))
    assert r[below_chin[1], below_chin[0]] in (2, 3)  # neck (or torso) under the chin
    assert r[5, 5] == 0 or r[5, 505] == 0  # a top corner is background
    assert (r == 3).sum() > 0.02 * r.size  # the suit is torso


def test_background_plate_recovers_a_static_background():
    from tfk.face.parsing import estimate_background

    rng = np.random.default_rng(0)
    bg = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    frames, masks = [], []
    for i in range(20):  # a "person" square moving across a static background
        f, m = bg.copy(), np.zeros((64, 64), np.uint8)
        x = 5 + 2 * i
        f[20:44, x : x + 16] = 30
        m[20:44, x : x + 16] = 1
        frames.append(f)
        masks.append(m)
    plate = estimate_background(frames, masks, step=1)
    assert plate.shape == bg.shape
    assert np.abs(plate.astype(int) - bg).mean() < 3


def test_torso_and_gt_images_follow_the_regions():
    from tfk.face.parsing import torso_and_gt_images

    h, w = 140, 40
    frame = np.full((h, w, 3), 200, np.uint8)
    bc = np.full((h, w, 3), 10, np.uint8)
    regions = np.zeros((h, w), np.uint8)
    regions[5:80, 10:30] = 1  # head
    regions[80:, 5:35] = 3  # torso (its top touches the head beside the neck)
    regions[80:90, 15:25] = 2  # neck
    gt, torso = torso_and_gt_images(frame, regions, bc)
    assert (gt[0, 0] == 10).all() and (gt[10, 20] == 200).all()  # background -> bc, person kept
    assert torso.shape == (h, w, 4)
    assert torso[85, 20, 3] == 255 and torso[120, 6, 3] == 255  # neck and torso opaque
    assert torso[0, 0, 3] == 0 and (torso[0, 0, :3] == 0).all()  # background transparent black
    # neck top (dilated 3 px up, pushed 4 px down) painted 53 px upward into the head, no further
    assert torso[40, 20, 3] == 255 and torso[20, 20, 3] == 0
    # torso top under the head painted 9 px upward
    assert torso[73, 12, 3] == 255 and torso[68, 12, 3] == 0
    assert torso[73, 12, 0] < 200  # darkened by 0.98^k
