"""``tfk preprocess ernerf``: end to end on a synthetic subject and on the shared real clip, the contract of every
output (reference notes 8.2), resumability (interrupt -> resume; a changed option redoes only its dependants),
skipped steps with visible reasons, and the error cases. CPU only, no network, no real weights: BFM 2009 is
replaced by the BFM-structured synthetic model, RVM by a checkpoint in the published layout whose matte is 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfk.nerfprep.testing import check_contract, identity_rvm_checkpoint, no_face_clip, synthetic_3dmm, two_face_clip
from tfk.testing.speech_models import tiny_speech_config

FAST = ["--head-size", "128", "--tracking", "landmarks", "--track-preset", "tiny"]


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
    """Synthetic 3DMM, identity-matte RVM checkpoint, and a 1.6 s 128² synthetic talking subject (40 frames)."""
    from tfk.testing.synth import make_talking_clip

    d = tmp_path_factory.mktemp("ernerf_assets")
    return {
        "bfm": synthetic_3dmm(d / "bfm"),
        "rvm": identity_rvm_checkpoint(d / "rvm_mobilenetv3.pth"),
        "clip": make_talking_clip(d / "subject.mp4", seconds=1.6, size=128),
    }


def _states(ws_root: Path) -> dict[str, str]:
    from tfk.workspace import Pipeline, Workspace
    from tfk.workspace.pipeline import load_plan

    ws = Workspace.for_subject("ernerf", "synth", ws_root)
    return {s.name: s.state for s in Pipeline(ws, load_plan(ws)).status()}


@pytest.mark.slow
def test_synthetic_end_to_end_resume_and_dependants(tfk_cli, assets, tmp_path, monkeypatch):
    import tfk.face.parsing as parsing

    ws = tmp_path / "ws"
    args = ["preprocess", "ernerf", str(assets["clip"]), "--uid", "synth", "--workspace", str(ws)]
    args += ["--matting", "none", "--bfm", str(assets["bfm"]), *FAST]

    # Ctrl-C in the middle of the gt/torso images: earlier steps are published, nothing half-written is kept
    real, calls = parsing.torso_and_gt_images, []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(parsing, "torso_and_gt_images", interrupted)
    r = tfk_cli(*args)
    assert r.exit_code == 130, r.stderr
    monkeypatch.undo()
    st = _states(ws)
    assert [st[n] for n in ("normalize", "head_region", "head_video", "frames", "parsing")] == ["done"] * 5
    assert st["matting"] == "skipped"  # --matting none: completed without a matte, and tfk status says so
    assert st["images"] == "missing" and st["dataset"] == "missing"
    assert not (ws / "steps" / "images").exists() and not (ws / "steps" / "dataset").exists()
    assert not [p for p in (ws / "steps").iterdir() if ".tmp-" in p.name]
    frames_done = (ws / "steps" / "frames" / ".done.json").read_text()

    # resume: only the unfinished steps run
    r = tfk_cli(*args)
    assert r.exit_code == 0, r.stderr
    out = Path(r.stdout.strip().splitlines()[-1])
    assert out == ws / "steps" / "dataset"
    assert (ws / "steps" / "frames" / ".done.json").read_text() == frames_done
    assert "warning: step audio_features skipped: DeepSpeech" in r.stderr  # visible reason for the missing weights

    facts = check_contract(out, "ernerf", expected_frames=40)
    md = facts["model_data"]
    assert facts["split"] == (36, 4)
    assert md["complete"] is False and set(md["skipped"]) == {"matting", "audio_features"}
    assert md["audio_features"]["layout"] == "[N,16,29] AD-NeRF DeepSpeech windows"
    assert not (out / "aud_ds.npy").exists()
    assert md["blinks"]["source"] == "landmark-ear-estimate" and "not OpenFace" in md["blinks"]["note"]
    assert md["parsing"]["quality"] == "fallback"
    assert md["matting"]["skipped"] == "matting disabled (--matting none)" and md["video_file"] is None
    assert md["head_region_used_as_is"] is True and md["head_region"] == [0, 0, 128, 128]

    # tfk status names every step: all done except the two that completed without their outputs
    r = tfk_cli("status", "ernerf", "--uid", "synth", "--workspace", str(ws), "--json")
    rows = json.loads(r.stdout)["steps"]
    names = [s["step"] for s in rows]
    assert names[:12] == [
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
    ]
    assert names[-1] == "dataset" and "track_write" in names
    states = {s["step"]: s["state"] for s in rows}
    assert {n for n, v in states.items() if v == "skipped"} == {"matting", "audio_features"}
    assert {v for n, v in states.items() if n not in ("matting", "audio_features")} == {"done"}

    # re-run: everything cached; a changed audio front-end redoes only its step and the dataset
    stamp = {n: (ws / "steps" / n / ".done.json").read_text() for n in names}
    r = tfk_cli(*args)
    assert r.exit_code == 0
    assert {n for n in names if (ws / "steps" / n / ".done.json").read_text() != stamp[n]} == set()
    r = tfk_cli(*args, "--audio-features", "hubert")
    assert r.exit_code == 0, r.stderr
    changed = {n for n in names if (ws / "steps" / n / ".done.json").read_text() != stamp[n]}
    assert changed == {"audio_features", "dataset"}
    md = json.loads((out / "model_data.json").read_text())
    why = md["skipped"]["audio_features"]  # no transformers, or no HuBERT weights, depending on the environment
    assert md["audio_features"]["kind"] == "hubert" and ("transformers" in why or "hubert-large-ls960-ft" in why)


@pytest.mark.slow
def test_shared_real_clip(tfk_cli, shared_media, assets, tmp_path):
    import cv2

    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(shared_media / "WDA_KatieHill_000.mp4"),
        "--uid",
        "katie",
        "--workspace",
        str(ws),
        "--max-seconds",
        "1.6",
        "--matting",
        "none",
        "--bfm",
        str(assets["bfm"]),
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    out = Path(r.stdout.strip().splitlines()[-1])
    facts = check_contract(out, "ernerf", expected_frames=40)
    md = facts["model_data"]
    assert md["head_region_used_as_is"] is True  # a 512² HDTF head crop is kept as is
    assert md["skipped"]["matting"] == "matting disabled (--matting none)"
    # the plate reproduces the static background where the person never is
    from tfk.face.parsing import colour_mask_to_regions

    frames = [cv2.imread(str(out / "ori_imgs" / f"{i}.jpg")).astype(np.float32) for i in range(0, 40, 4)]
    bg_always = np.ones(frames[0].shape[:2], bool)
    for i in range(40):
        bg_always &= colour_mask_to_regions(cv2.imread(str(out / "parsing" / f"{i}.png"))) == 0
    assert bg_always.mean() > 0.05
    median = np.median(np.stack(frames), axis=0)
    bc = cv2.imread(str(out / "bc.jpg")).astype(np.float32)
    assert np.abs(bc - median)[bg_always].mean() < 8.0


def test_matting_with_a_checkpoint_in_the_published_layout(tfk_cli, assets, tmp_path):
    """RVM runs through the real loader and compositor (a matte of 1: the composite is the clip itself)."""
    from tfk.media import iter_frames

    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(assets["clip"]),
        "--uid",
        "m",
        "--workspace",
        str(ws),
        "--until",
        "head_video",
        "--matting-weights",
        str(assets["rvm"]),
        "--bfm",
        str(assets["bfm"]),
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    m = ws / "steps" / "matting"
    info = json.loads((m / ".done.json").read_text())["info"]
    assert info["frames"] == 40 and info["background"] == [128, 128, 128]
    for src, alpha, comp in zip(
        iter_frames(ws / "steps" / "normalize" / "input_temp.mp4"),
        iter_frames(m / "alpha.mp4"),
        iter_frames(m / "input.mp4"),
        strict=True,
    ):
        assert alpha.min() >= 250
        assert np.abs(comp.astype(int) - src.astype(int)).mean() < 3.0
    assert (ws / "steps" / "head_video" / "face_alpha.mp4").is_file()
    assert not (ws / "steps" / "frames").exists()  # --until stops there


def test_head_region_of_a_wider_shot(tfk_cli, assets, tmp_path):
    """A person in a wider frame: one stable square head box, cropped and scaled to the head video."""
    from tfk.media import count_frames, iter_frames, probe, run_ffmpeg

    wide = tmp_path / "wide.mp4"
    run_ffmpeg(
        [
            "-y",
            "-i",
            assets["clip"],
            "-vf",
            "pad=320:240:170:90:color=gray",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "copy",
            wide,
        ],
        what="pad",
    )
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(wide),
        "--uid",
        "wide",
        "--workspace",
        str(ws),
        "--until",
        "head_video",
        "--matting",
        "none",
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    box = json.loads((ws / "steps" / "head_region" / "head_bbox.json").read_text())
    x1, y1, x2, y2 = box["head_bbox"]
    assert box["used_as_is"] is False and box["frame_size"] == [320, 240]
    assert x2 - x1 == y2 - y1 and x1 >= 0 and x2 <= 320 and y1 >= 0 and y2 <= 240
    assert x1 < 170 + 64 < x2 and y1 < 90 + 64 < y2  # around the face (the clip's centre)
    head = ws / "steps" / "head_video" / "face_data.mp4"
    info = probe(head)
    assert (info.width, info.height) == (128, 128) and count_frames(head, exact=True) == 40
    import cv2

    src = next(iter_frames(ws / "steps" / "normalize" / "input_temp.mp4"))[y1:y2, x1:x2]
    want = cv2.resize(src, (128, 128), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(next(iter_frames(head)).astype(float) - want).mean() < 12  # that very region, scaled


def test_matting_skipped_without_weights(tfk_cli, assets, tmp_path):
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess", "ernerf", str(assets["clip"]), "--uid", "w", "--workspace", str(ws), "--until", "matting", *FAST
    )
    assert r.exit_code == 0, r.stderr
    why = "RVM weights are not in the weights store (tfk weights pull shared/rvm_mobilenetv3)"
    assert f"warning: step matting skipped: {why}" in r.stderr
    assert not (ws / "steps" / "matting" / "input.mp4").exists()


def test_hubert_features_with_a_tiny_local_model(tfk_cli, assets, tmp_path):
    """The HuBERT front-end end to end (a tiny random HubertModel in a local folder): ER-NeRF's [T/2, 2, C]."""
    tr = pytest.importorskip("transformers")
    from tfk.audio.align import ernerf_hubert_layout
    from tfk.audio.hubert import hidden_states, load_model
    from tfk.media import load_audio

    cfg = tiny_speech_config("hubert", hidden_size=32, intermediate_size=37)
    model_dir = tmp_path / "hubert"
    tr.HubertModel(cfg).eval().save_pretrained(str(model_dir))
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(assets["clip"]),
        "--uid",
        "h",
        "--workspace",
        str(ws),
        "--until",
        "audio_features",
        "--audio-features",
        "hubert",
        "--audio-model",
        str(model_dir),
        "--matting",
        "none",
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    feats = np.load(ws / "steps" / "audio_features" / "aud_hu.npy")
    wav = load_audio(ws / "steps" / "audio" / "aud.wav", sr=16000)
    assert feats.shape == (((len(wav) - 80) // 320) // 2, 2, 32)
    assert abs(feats.shape[0] - 40) <= 1  # one row per video frame
    want = ernerf_hubert_layout(hidden_states(load_model(model_dir), wav))
    assert np.allclose(feats, want, atol=1e-5)
    info = json.loads((ws / "steps" / "audio_features" / ".done.json").read_text())["info"]
    assert info["layout"] == "[T/2,2,1024] ER-NeRF HuBERT pairs" and info["shape"] == list(feats.shape)


def test_wav2vec_features_with_a_tiny_local_model(tfk_cli, assets, tmp_path):
    """The wav2vec2 (esperanto CTC) front-end with a tiny random model: unfolded logits [M/2+1, 16, 44]."""
    tr = pytest.importorskip("transformers")
    cfg = tiny_speech_config("wav2vec", vocab_size=44, hidden_size=32, intermediate_size=37)
    model_dir = tmp_path / "w2v"
    tr.Wav2Vec2ForCTC(cfg).eval().save_pretrained(str(model_dir))
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(assets["clip"]),
        "--uid",
        "w",
        "--workspace",
        str(ws),
        "--until",
        "audio_features",
        "--audio-features",
        "wav2vec",
        "--audio-model",
        str(model_dir),
        "--matting",
        "none",
        *FAST,
    )
    assert r.exit_code == 0, r.stderr
    feats = np.load(ws / "steps" / "audio_features" / "aud_eo.npy")
    assert feats.shape[1:] == (16, 44) and abs(feats.shape[0] - 40) <= 1
    assert (feats[0, :8] == 0).all()  # F.unfold's zero padding of 8 rows before the first 50 Hz step


def test_too_short_clip(tfk_cli, tmp_path, assets):
    from tfk.testing.synth import make_talking_clip

    clip = make_talking_clip(tmp_path / "short.mp4", seconds=0.8, size=128)
    ws = tmp_path / "ws"
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(clip),
        "--uid",
        "s",
        "--workspace",
        str(ws),
        "--matting",
        "none",
        "--bfm",
        str(assets["bfm"]),
        *FAST,
    )
    assert r.exit_code == 65
    assert "clip too short: 20 frames" in r.stderr and "at least 32 frames" in r.stderr
    assert not (ws / "steps" / "normalize").exists()
    assert not [p for p in (ws / "steps").iterdir() if p.name != "pipeline.json"]


def test_no_face_and_two_faces(tfk_cli, tmp_path, assets, synthetic_clip):
    ws = tmp_path / "ws"
    common = ["--matting", "none", "--bfm", str(assets["bfm"]), "--max-seconds", "1.6", *FAST]
    r = tfk_cli(
        "preprocess",
        "ernerf",
        str(no_face_clip(tmp_path / "noface.mp4")),
        "--uid",
        "n",
        "--workspace",
        str(ws / "n"),
        *common,
    )
    assert r.exit_code == 65
    assert "no face found in any of the" in r.stderr and "sampled frames (0, " in r.stderr
    assert not (ws / "n" / "steps" / "head_region").exists()

    two = two_face_clip(synthetic_clip, tmp_path / "two.mp4")
    r = tfk_cli("preprocess", "ernerf", str(two), "--uid", "t", "--workspace", str(ws / "t"), *common)
    assert r.exit_code == 65
    assert "more than one face in sampled frames 0, " in r.stderr


def test_options_are_typed_with_defaults_and_module_is_light():
    import subprocess
    import sys

    code = (
        "import sys, tfk_ernerf.preprocess as p, tfk_ernerf.plugin;"
        "assert not {'torch','cv2','numpy'} & set(sys.modules), sorted({'torch','cv2','numpy'} & set(sys.modules));"
        "o={x.dest: x for x in p.OPTIONS};"
        "a=o['audio_features']; assert a.choices==('deepspeech','hubert','wav2vec') and a.default=='deepspeech';"
        "assert o['matting'].default=='rvm' and o['head_size'].type is int and o['head_size'].default==512;"
        "assert o['input'].argument and o['input'].media=='video+audio'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
