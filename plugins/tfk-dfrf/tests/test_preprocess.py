"""``tfk preprocess dfrf``: DFRF's layout (identity folder ``0/``, ``com_imgs``, 3-channel ``torso_imgs``,
``config.txt``, 1/2 split, focal 1300), its reference-frame rule, and the shared steps end to end on a synthetic
subject and on the shared real clip. CPU only, no network, no real weights (BFM 2009 -> the BFM-structured
synthetic model; DeepSpeech absent -> the features step is skipped with its reason)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfk.nerfprep.testing import check_contract, synthetic_3dmm

FAST = ["--head-size", "128", "--tracking", "landmarks", "--track-preset", "tiny", "--matting", "none"]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The suite shares 2 cores with other jobs: one intra-op thread avoids OpenMP oversubscription stalls."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> dict[str, Path]:
    """Synthetic 3DMM and a 1.6 s 128² synthetic talking subject (40 frames)."""
    from tfk.testing.synth import make_talking_clip

    d = tmp_path_factory.mktemp("dfrf_assets")
    return {"bfm": synthetic_3dmm(d / "bfm"), "clip": make_talking_clip(d / "subject.mp4", seconds=1.6, size=128)}


def _check_dfrf(out: Path, uid: str, refs: list[int]) -> dict:
    assert out.name == "0" and out.parent.name == "dataset"  # dataset/<id>/0/ as the original
    facts = check_contract(out, "dfrf", expected_frames=40)
    md = facts["model_data"]
    assert facts["split"] == (20, 20)
    assert md["references"] == refs
    assert "DeepSpeech" in md["skipped"]["audio_features"] and not (out / "aud.npy").exists()
    assert md["audio_features"]["file"] == "aud.npy" and md["audio_features"]["layout"].startswith("[N,16,29]")
    doc = json.loads((out / "transforms_train.json").read_text())
    assert doc["focal_len"] == pytest.approx(1300.0)  # DFRF fixes the focal
    cfg = dict(line.split(" = ", 1) for line in (out / "config.txt").read_text().splitlines())
    assert cfg["expname"] == cfg["expname_finetune"] == uid and cfg["bc_type"] == "torso_imgs"
    assert float(cfg["near"]) == pytest.approx(md["near"]) and float(cfg["far"]) - float(cfg["near"]) == pytest.approx(
        0.6
    )
    assert Path(cfg["datadir"]) == out.parent
    return md


@pytest.mark.slow
def test_synthetic_end_to_end(tfk_cli, assets, tmp_path):
    ws = tmp_path / "ws"
    args = ["preprocess", "dfrf", str(assets["clip"]), "--uid", "bob", "--workspace", str(ws)]
    args += ["--bfm", str(assets["bfm"]), "--references", "2,7,12,19", *FAST]
    r = tfk_cli(*args)
    assert r.exit_code == 0, r.stderr
    out = Path(r.stdout.strip().splitlines()[-1])
    _check_dfrf(out, "bob", [2, 7, 12, 19])
    assert "warning: step audio_features skipped" in r.stderr

    # other reference frames: only the dataset step (which records them) is redone
    names = [json.loads(p.read_text())["name"] for p in sorted((ws / "steps").glob("*/.done.json"))]
    stamp = {n: (ws / "steps" / n / ".done.json").read_text() for n in names}
    args[args.index("2,7,12,19")] = "0,1,2,3"
    r = tfk_cli(*args)
    assert r.exit_code == 0, r.stderr
    changed = {n for n in names if (ws / "steps" / n / ".done.json").read_text() != stamp[n]}
    assert changed == {"dataset"}
    assert json.loads((out / "model_data.json").read_text())["references"] == [0, 1, 2, 3]


def test_deepspeech_features_with_a_tiny_graph(tfk_cli, assets, tmp_path):
    """DeepSpeech through the real TF graph runner (a tiny graph with v0.1's node names): aud.npy [N, 16, 29]."""
    tf = pytest.importorskip("tensorflow")
    import numpy as np

    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, None, 494], name="input_node")
        tf.compat.v1.placeholder(tf.int32, [None], name="input_lengths")
        w = tf.constant(rng.standard_normal((494, 29)).astype(np.float32) * 0.1)
        tf.identity(tf.expand_dims(tf.linalg.matmul(tf.reshape(x, [-1, 494]), w), 1), name="logits")
    pb = tmp_path / "output_graph.pb"
    pb.write_bytes(g.as_graph_def().SerializeToString())
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "dfrf",
        str(assets["clip"]),
        "--uid",
        "d",
        "--workspace",
        str(ws),
        "--until",
        "audio_features",
        "--audio-model",
        str(pb),
        "--references",
        "0,1,2,3",
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    feats = np.load(ws / "steps" / "audio_features" / "aud.npy")
    assert feats.shape == (40, 16, 29)  # ceil((round(50 * 1.6) - 1) / 2) windows: one per video frame
    assert feats.dtype == np.float64  # as the original's aud.npy
    assert (feats[0, :8] == 0).all() and np.abs(feats[0, 8:]).sum() > 0


def test_clip_too_short_for_the_default_references(tfk_cli, assets, tmp_path):
    ws = tmp_path / "ws"
    r = tfk_cli("preprocess", "dfrf", str(assets["clip"]), "--uid", "s", "--workspace", str(ws), *FAST)
    assert r.exit_code == 65
    assert "clip too short for DFRF's reference frames 50,100,150,200: 40 frames give 20 training frames" in r.stderr
    assert "--references i,j,k,l" in r.stderr
    assert not [p for p in (ws / "steps").iterdir() if p.name != "pipeline.json"]

    r = tfk_cli(
        "preprocess",
        "dfrf",
        str(assets["clip"]),
        "--uid",
        "s",
        "--workspace",
        str(ws),
        *FAST,
        "--references",
        "1,2,3,25",
    )
    assert r.exit_code == 65 and "frames [25] are not training frames" in r.stderr
    r = tfk_cli(
        "preprocess", "dfrf", str(assets["clip"]), "--uid", "s", "--workspace", str(ws), *FAST, "--references", "1,2"
    )
    assert r.exit_code == 2 and "four comma-separated frame indices" in r.stderr


@pytest.mark.slow
def test_shared_real_clip(tfk_cli, shared_media, assets, tmp_path):
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "dfrf",
        str(shared_media / "WDA_KatieHill_000.mp4"),
        "--uid",
        "katie",
        "--workspace",
        str(ws),
        "--max-seconds",
        "1.6",
        "--references",
        "0,6,12,18",
        "--bfm",
        str(assets["bfm"]),
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    md = _check_dfrf(Path(r.stdout.strip().splitlines()[-1]), "katie", [0, 6, 12, 18])
    assert md["head_region_used_as_is"] is True and md["source_frame_width"] == 512


def test_options_are_typed_with_defaults_and_module_is_light():
    import subprocess
    import sys

    code = (
        "import sys, tfk_dfrf.preprocess as p, tfk_dfrf.plugin;"
        "assert not {'torch','cv2','numpy'} & set(sys.modules);"
        "o={x.dest: x for x in p.OPTIONS};"
        "assert 'audio_features' not in o and 'blinks' not in o;"
        "assert o['references'].default=='auto' and o['focal'].default==1300.0 and o['focal'].type is float;"
        "assert o['input'].argument and o['input'].media=='video+audio'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
