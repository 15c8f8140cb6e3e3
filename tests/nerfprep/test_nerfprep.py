"""Units of tfk.nerfprep: the RVM network's checkpoint layout and streaming, the head region, blinks, DFRF torso
images, audio-feature layouts and the settings (the pipeline itself is tested end to end by the plugins)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tfk import errors
from tfk.testing.speech_models import tiny_speech_config


# ------------------------------------------------------------------------------------------------ RVM
def test_rvm_key_layout_and_strict_round_trip(tmp_path):
    import torch

    from tfk.nerfprep.rvm import MattingNetwork, load_rvm, matte_frames

    torch.manual_seed(0)
    net = MattingNetwork().eval()
    sd = net.state_dict()
    # the published layout: torchvision MobileNetV3 names under backbone., LR-ASPP, ConvGRU decoder, DGF refiner
    assert sum(p.numel() for p in net.parameters()) == 3_748_633
    shapes = {
        "backbone.features.0.0.weight": (16, 3, 3, 3),
        "backbone.features.4.block.2.fc1.weight": (24, 72, 1, 1),
        "backbone.features.13.block.1.0.weight": (672, 1, 5, 5),
        "backbone.features.14.block.1.0.weight": (960, 1, 5, 5),
        "backbone.features.16.0.weight": (960, 160, 1, 1),
        "aspp.aspp1.0.weight": (128, 960, 1, 1),
        "aspp.aspp2.1.weight": (128, 960, 1, 1),
        "decoder.decode4.gru.ih.0.weight": (128, 128, 3, 3),
        "decoder.decode3.conv.0.weight": (80, 171, 3, 3),
        "decoder.decode0.conv.3.weight": (16, 16, 3, 3),
        "project_mat.conv.weight": (4, 16, 1, 1),
        "project_seg.conv.weight": (1, 16, 1, 1),
        "refiner.box_filter.weight": (4, 1, 3, 3),
        "refiner.conv.6.bias": (4,),
    }
    for k, shape in shapes.items():
        assert tuple(sd[k].shape) == shape, k
    for k in sd:  # perturb everything, BN statistics included, so the round trip covers every tensor
        if "running_var" in k:
            sd[k].copy_(1 + 0.1 * torch.rand_like(sd[k]))
        elif sd[k].dtype.is_floating_point:
            sd[k].add_(0.01 * torch.randn_like(sd[k]))
    path = tmp_path / "rvm_mobilenetv3.pth"
    torch.save(sd, path)
    loaded = load_rvm(path)
    frames = [np.random.default_rng(i).integers(0, 255, (64, 48, 3), dtype=np.uint8) for i in range(3)]
    net.load_state_dict(sd)
    a = list(matte_frames(net, frames))
    b = list(matte_frames(loaded, frames))
    for (f1, p1), (f2, p2) in zip(a, b, strict=True):
        assert f1.shape == (64, 48, 3) and p1.shape == (64, 48)
        assert np.array_equal(f1, f2) and np.array_equal(p1, p2)
        assert p1.min() >= 0 and p1.max() <= 1
    # the recurrence matters: the same frame after others gives another matte than alone
    alone = next(matte_frames(net, frames[2:]))
    assert not (np.allclose(alone[0], a[2][0]) and np.allclose(alone[1], a[2][1]))

    # a wrong file is a clear error, not a half-loaded network
    bad = tmp_path / "bad.pth"
    torch.save({k: v for k, v in sd.items() if not k.startswith("refiner.")}, bad)
    with pytest.raises(errors.InvalidArtifact, match="not an RVM MobileNetV3 checkpoint"):
        load_rvm(bad)
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(errors.InvalidArtifact):
        load_rvm(tmp_path / "junk.pth")


def test_rvm_downsampled_path_uses_the_refiner(tmp_path):
    import torch

    from tfk.nerfprep.rvm import MattingNetwork, auto_downsample

    assert auto_downsample(1080, 1920) == pytest.approx(512 / 1920) and auto_downsample(256, 256) == 1.0
    net = MattingNetwork().eval()
    x = torch.rand(1, 3, 96, 80)
    r = [torch.zeros(1, 1, 1, 1)] * 4
    with torch.no_grad():
        fgr, pha, r1, r2, r3, r4 = net(x, *r, downsample_ratio=0.5)
    assert fgr.shape == (1, 3, 96, 80) and pha.shape == (1, 1, 96, 80)
    assert [t.shape[1] for t in (r1, r2, r3, r4)] == [16, 20, 40, 64]


# ------------------------------------------------------------------------------------------------ head region
def _face(cx: float, cy: float, s: float) -> np.ndarray:
    from tfk.tdmm.synthetic import landmark_template

    t = landmark_template()
    return np.stack([cx + s * t[:, 0], cy - s * t[:, 1]], 1)


def test_head_region_is_one_stable_square_inside_the_frame():
    from tfk.nerfprep.head import frame_head_box, stable_head_region

    rng = np.random.default_rng(0)
    boxes = [frame_head_box(_face(900 + rng.normal(0, 3), 300 + rng.normal(0, 3), 80)) for _ in range(20)]
    boxes.append(frame_head_box(_face(200, 600, 80)))  # one wrong detection: filtered by the percentiles
    r = stable_head_region(np.stack(boxes), 1920, 1080)
    x1, y1, x2, y2 = r.box
    assert not r.as_is and x2 - x1 == y2 - y1 and (x2 - x1) % 2 == 0
    assert x1 >= 0 and x2 <= 1920 and y1 >= 0 and y2 <= 1080
    assert abs((x1 + x2) / 2 - 900) < 20 and 100 < x2 - x1 < 400
    # a head crop (the face fills the frame) is used as is
    big = stable_head_region(np.stack([frame_head_box(_face(256, 270, 230))]), 512, 512)
    assert big.as_is and big.box == (0, 0, 512, 512)
    assert stable_head_region(np.stack(boxes), 1920, 1080, head_crop="none").box == (420, 0, 1500, 1080)


def test_head_box_top_follows_the_matte():
    from tfk.nerfprep.head import frame_head_box

    lm = _face(300, 300, 80)
    alpha = np.zeros((600, 600), np.uint8)
    alpha[150:, 200:400] = 255  # hair starts at row 150
    with_matte = frame_head_box(lm, alpha)
    cy = (with_matte[1] + with_matte[3]) / 2
    side = with_matte[2] - with_matte[0]
    assert cy - side / 2 <= 150 and side > 0


# ------------------------------------------------------------------------------------------------ blinks
def test_ear_blink_estimate_and_au_csv(tmp_path):
    from tfk.nerfprep.blinks import ear_au45, read_au45, write_au_csv

    frames = np.stack([_face(100, 100, 60) for _ in range(30)])
    closed = [10, 11, 12]
    for i in closed:  # squash both eyes vertically
        for eye in (slice(36, 42), slice(42, 48)):
            c = frames[i, eye].mean(0)
            frames[i, eye, 1] = c[1] + 0.15 * (frames[i, eye, 1] - c[1])
    au = ear_au45(frames)
    assert au.shape == (30,) and au.min() >= 0 and au.max() <= 2
    assert (au[closed] > 1.5).all() and (np.delete(au, closed) < 0.05).all()
    path = write_au_csv(tmp_path / "au.csv", au)
    header = path.read_text().splitlines()[0]
    assert header.endswith(", AU45_r")  # OpenFace's ", " separators: pandas sees ' AU45_r' as ER-NeRF reads it
    assert np.allclose(read_au45(path), au, atol=0.005)


# ------------------------------------------------------------------------------------------------ DFRF torso
def test_dfrf_torso_image():
    from tfk.face.parsing.masks import BACKGROUND, HEAD, NECK, TORSO
    from tfk.nerfprep.images import dfrf_torso_image

    h, w = 160, 100
    regions = np.full((h, w), BACKGROUND, np.uint8)
    regions[20:90, 30:70] = HEAD
    regions[90:110, 40:60] = NECK
    regions[110:, 10:90] = TORSO
    com = np.zeros((h, w, 3), np.uint8)
    com[regions == HEAD] = (200, 0, 0)
    com[regions == NECK] = (0, 200, 0)
    com[regions == TORSO] = (0, 0, 200)
    com[regions == BACKGROUND] = (50, 50, 50)
    bc = np.full((h, w, 3), 50, np.uint8)
    out = dfrf_torso_image(com, regions, bc)
    assert out.shape == (h, w, 3)
    assert (out[regions == TORSO] == (0, 0, 200)).all()
    assert (out[20:40, 30:70] == 50).all()  # the head is gone
    assert not (out == (200, 0, 0)).all(axis=2).any()
    # the neck below the 4x4-dilated head starts at row 92: its colour is copied 50 px upward over the old chin
    assert (out[42:110, 45:55] == (0, 200, 0)).all()
    assert (out[20:42, 45:55] == 50).all()


# ------------------------------------------------------------------------------------------------ audio features
@pytest.mark.parametrize("seconds", [1.0, 3.0, 3.02])
def test_feature_layouts(seconds):
    from tfk.nerfprep.features import check_rows, spec, to_layout

    n = round(seconds * 16000)
    t50 = math.ceil(n / 320)
    ds = to_layout("deepspeech", np.random.rand(t50, 29), n)
    assert ds.shape == (math.ceil((round(50 * seconds) - 1) / 2), 16, 29)
    hu = to_layout("hubert", np.random.rand((n - 80) // 320, 1024), n)
    assert hu.shape == (((n - 80) // 320) // 2, 2, 1024)
    eo = to_layout("wav2vec", np.random.rand(t50, 44), n)
    assert eo.shape == (t50 // 2 + 1, 16, 44)
    frames = round(25 * seconds)
    for f in (ds, hu, eo):
        check_rows(f, frames, "x")
    with pytest.raises(errors.BadInput, match="rows for"):
        check_rows(ds, frames + 10, "deepspeech")
    assert spec("deepspeech", "dfrf").file == "aud.npy" and spec("deepspeech").file == "aud_ds.npy"
    assert (spec("hubert").file, spec("hubert").dim) == ("aud_hu.npy", 1024)


def test_feature_availability_never_downloads():
    from tfk.nerfprep.features import availability

    state, why = availability("deepspeech")
    assert state is None and ("TensorFlow" in why or "tfk weights pull shared/deepspeech_v010" in why)


_W2V_IDS = ("shared/wav2vec2_xlsr53_esperanto_config", "shared/wav2vec2_xlsr53_esperanto_weights")


def test_resolve_raises_what_availability_reports(tmp_path, monkeypatch):
    """resolve() -> the tfk error (missing weights name the pull command); availability() -> its one-line reason."""
    import importlib.util

    from tfk.nerfprep.features import availability, resolve

    pytest.importorskip("transformers")
    with pytest.raises(errors.MissingWeights) as e:
        resolve("wav2vec", find=lambda _id: None)
    assert e.value.hint == "tfk weights pull " + " ".join(_W2V_IDS) and e.value.missing == list(_W2V_IDS)
    state, why = availability("wav2vec", find=lambda _id: None)
    assert state is None and why == f"{e.value.message} ({e.value.hint})"
    files = {i: tmp_path / i.split("/")[1] for i in _W2V_IDS}
    assert resolve("wav2vec", find=files.get) == "|".join(str(files[i]) for i in _W2V_IDS)
    half = {_W2V_IDS[0]: files[_W2V_IDS[0]]}
    with pytest.raises(errors.MissingWeights, match="not in the weights store") as e:
        resolve("wav2vec", find=half.get)
    assert e.value.missing == [_W2V_IDS[1]]
    with pytest.raises(errors.InputNotFound, match=r"config\.json"):
        resolve("hubert", model=tmp_path)
    with pytest.raises(errors.BadInput, match="unknown audio features 'mfcc'"):
        resolve("mfcc")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "transformers" else real(n, *a))
    with pytest.raises(errors.Unavailable, match="transformers") as e:
        resolve("wav2vec", find=files.get)
    assert not isinstance(e.value, errors.MissingWeights) and e.value.hint == "pip install transformers"


def test_wav2vec_extract_from_a_model_folder_or_separate_store_files(tmp_path):
    """The store keeps a snapshot's files apart: extract() links them into one folder; same features either way."""
    import torch

    from tfk.nerfprep.features import extract, resolve

    tr = pytest.importorskip("transformers")
    cfg = tiny_speech_config("wav2vec", vocab_size=44)
    torch.manual_seed(0)
    model = tr.Wav2Vec2ForCTC(cfg).eval()
    d = tmp_path / "model"
    model.save_pretrained(d)
    (d / "model.safetensors").unlink()
    torch.save(model.state_dict(), d / "pytorch_model.bin")  # the published snapshot's file name
    store = {}
    for aid, name in zip(_W2V_IDS, ("config.json", "pytorch_model.bin"), strict=True):
        f = tmp_path / "store" / aid.split("/")[1] / name
        f.parent.mkdir(parents=True)
        f.write_bytes((d / name).read_bytes())
        store[aid] = f
    wav = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)  # 1 s: 49 steps at 50 Hz
    a = extract("wav2vec", wav, resolve("wav2vec", model=d))
    b = extract("wav2vec", wav, resolve("wav2vec", find=store.get))
    assert a.shape == (25, 16, 44) and np.array_equal(a, b)
    with pytest.raises(errors.BadInput, match="too short"):
        extract("wav2vec", wav[:200], resolve("wav2vec", model=d))


# ------------------------------------------------------------------------------------------------ settings
def test_config_defaults_and_errors():
    from fractions import Fraction

    from tfk.nerfprep.config import PrepConfig, parse_references, parse_rgb
    from tfk.nerfprep.steps import check_references

    d = PrepConfig.for_model("dfrf")
    assert d.split == Fraction(1, 2) and d.focal == 1300.0 and d.audio_features == "deepspeech"
    e = PrepConfig.for_model("ernerf")
    assert e.split == Fraction(10, 11) and e.focal is None
    with pytest.raises(errors.UsageError, match="multiple of 1024"):
        PrepConfig.for_model("dfrf", head_size=100)
    with pytest.raises(errors.UsageError, match="audio-features"):
        PrepConfig.for_model("dfrf", audio_features="hubert")
    assert parse_references("auto") is None and parse_references("1,2,3,4") == (1, 2, 3, 4)
    with pytest.raises(errors.UsageError):
        parse_references("1,2,x,4")
    assert parse_rgb("gray") == (128, 128, 128) and parse_rgb("0,255,0") == (0, 255, 0)
    with pytest.raises(errors.UsageError):
        parse_rgb("300,0,0")
    assert check_references(d, 402) == (50, 100, 150, 200)
    with pytest.raises(errors.BadInput, match="clip too short for DFRF's reference frames"):
        check_references(d, 400)
    assert check_references(e, 10) is None


# ------------------------------------------------------------------------------------------------ steps
def test_steps_without_weights_are_skipped_with_their_reason(tmp_path):
    """No BFM, no RVM, no DeepSpeech in the store: those steps exist, say why they skip, and never download."""
    from tfk.nerfprep.config import PrepConfig
    from tfk.nerfprep.steps import build_steps
    from tfk.workspace import Workspace

    ws = Workspace.for_subject("ernerf", "x", tmp_path / "ws")
    steps = build_steps(ws, tmp_path / "v.mp4", PrepConfig.for_model("ernerf"))
    names = [s.name for s in steps]
    assert names == [
        "normalize",
        "matting",
        "head_region",
        "head_video",
        "audio",
        "audio_features",
        "frames",
        "landmarks",
        "parsing",
        "background",
        "images",
        "blinks",
        "track",
        "dataset",
    ]
    by = {s.name: s for s in steps}
    assert by["matting"].params["weights"].startswith("missing: RVM weights are not in the weights store")
    assert "BFM" in by["track"].params["bfm"] or "Basel" in by["track"].params["bfm"]
    assert by["audio_features"].params["weights"].startswith("missing: ")
    assert by["track"].after == ["landmarks"] and by["audio_features"].after == ["audio"]
    dfrf = [s.name for s in build_steps(ws, tmp_path / "v.mp4", PrepConfig.for_model("dfrf"))]
    assert "blinks" not in dfrf and dfrf[-1] == "dataset"
