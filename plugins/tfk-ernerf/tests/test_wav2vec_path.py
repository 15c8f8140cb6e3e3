"""The wav2vec2 (esperanto CTC) front-end end to end: a subject with ``aud_eo.npy`` trains a 44-channel model,
inference extracts wav2vec features from new audio through :mod:`tfk.nerfprep.features` (a tiny random
``Wav2Vec2ForCTC`` with 44 output tokens stands in for wav2vec2-large-xlsr-53-esperanto), and a wav2vec model
refuses other front-ends' features with a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tfk.errors import BadInput, ConfigError, MissingWeights
from tfk.media import probe, write_wav
from tfk.testing.speech_models import tiny_speech_config
from tfk.testing.synth import synthetic_speech

pytestmark = pytest.mark.slow
IDS = ("shared/wav2vec2_xlsr53_esperanto_config", "shared/wav2vec2_xlsr53_esperanto_weights")


@pytest.fixture(scope="module")
def tiny_wav2vec(tmp_path_factory, save_hf_snapshot) -> Path:
    tr = pytest.importorskip("transformers")
    cfg = tiny_speech_config("wav2vec", vocab_size=44)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("w2v")
    return save_hf_snapshot(tr.Wav2Vec2ForCTC(cfg).eval(), d)


@pytest.fixture(scope="module")
def w2v_subject(tmp_path_factory) -> Path:
    """The synthetic subject with wav2vec-layout features (and its DeepSpeech ``aud.npy`` too), head trained
    on wav2vec for 3 steps."""
    from tfk_ernerf.synthetic import make_subject
    from tfk_ernerf.train.config import preset
    from tfk_ernerf.train.trainer import run_stage

    ws = make_subject(tmp_path_factory.mktemp("w2v-ws"), n_frames=12, size=32)
    np.save(ws / "aud_eo.npy", np.random.default_rng(0).normal(size=(12, 16, 44)).astype(np.float32))
    res = run_stage(ws, ws / "train", "head", preset("tiny", iters_head=3), frontend="wav2vec")
    assert res.global_step == 3
    return ws


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("aud") / "s.wav"
    write_wav(p, synthetic_speech(0.8, 16000, seed=2), 16000)
    return p


def test_wav2vec_model_is_44_wide_and_records_its_front_end(w2v_subject):
    from tfk_ernerf.models.checkpoint import checkpoint_frontend, read_checkpoint

    ck = read_checkpoint(w2v_subject / "train" / "head" / "checkpoints" / "ngp.pth")
    assert tuple(ck["model"]["audio_net.encoder_conv.0.weight"].shape) == (32, 44, 3)  # the official layout
    assert ck["tfk"]["frontend"] == "wav2vec" and ck["tfk"]["feature_file"] == "aud_eo.npy"
    assert checkpoint_frontend(ck) == "wav2vec"
    del ck["tfk"]  # an official checkpoint: the width says it
    assert checkpoint_frontend(ck) == "wav2vec"


def test_infer_extracts_wav2vec_features_from_the_audio(w2v_subject, tiny_wav2vec, speech, tmp_path):
    from tfk_ernerf.infer import infer

    from tfk import audio as taudio
    from tfk.nerfprep.features import extract, resolve

    feats = extract("wav2vec", taudio.load(speech), resolve("wav2vec", tiny_wav2vec))
    assert feats.shape == (20, 16, 44)  # 0.8 s: (12800 - 400) // 320 + 1 = 39 steps at 50 Hz -> 39 // 2 + 1 rows
    out = infer(w2v_subject, "eo", speech, tmp_path / "eo.mp4", merge="none", audio_model=tiny_wav2vec)
    info = probe(out)
    assert info.n_frames == 20 and abs(info.video_duration - info.audio_duration) < 1 / 25  # 25 x 0.8 s
    # the same weights as separate store files (as `tfk weights pull` leaves them): found through `find`
    store = {}
    for aid, name in zip(IDS, ("config.json", "pytorch_model.bin"), strict=True):
        f = tmp_path / "store" / aid.split("/")[1] / name
        f.parent.mkdir(parents=True)
        f.symlink_to(tiny_wav2vec / name)
        store[aid] = f
    out2 = infer(w2v_subject, "eo", speech, tmp_path / "eo2.mp4", merge="none", find=store.get)
    assert probe(out2).n_frames == 20


def test_wav2vec_model_refuses_deepspeech_features(w2v_subject, speech, tmp_path):
    from tfk_ernerf.infer import infer

    ds = np.random.default_rng(1).normal(size=(20, 16, 29)).astype(np.float32)
    with pytest.raises(BadInput, match=r"trained on wav2vec features \(44 channels\), got deepspeech features"):
        infer(w2v_subject, "eo", speech, tmp_path / "x.mp4", merge="none", features=ds)
    assert not (tmp_path / "x.mp4").exists()


def test_missing_wav2vec_weights_name_the_pull_command(w2v_subject, speech, tmp_path):
    from tfk_ernerf.infer import infer

    pytest.importorskip("transformers")
    with pytest.raises(MissingWeights) as e:
        infer(w2v_subject, "eo", speech, tmp_path / "x.mp4", merge="none", find=lambda _id: None)
    assert "wav2vec2-large-xlsr-53-esperanto" in e.value.message
    assert e.value.hint == f"tfk weights pull {' '.join(IDS)}"


def test_training_keeps_the_front_end_of_the_head(w2v_subject):
    from tfk_ernerf.train.config import preset
    from tfk_ernerf.train.trainer import bound_frontend, run_stage

    root = w2v_subject / "train"
    # aud.npy (DeepSpeech) is there too: without --audio-features the lips and torso follow the head's wav2vec
    assert bound_frontend(root, "torso", True, None) == "wav2vec"
    assert bound_frontend(root, "lips", True, "esperanto") == "wav2vec"
    with pytest.raises(ConfigError, match="trained on wav2vec audio features, not deepspeech") as e:
        run_stage(w2v_subject, root, "torso", preset("tiny"), frontend="deepspeech")
    assert "--audio-features wav2vec" in e.value.hint


def test_train_option_offers_wav2vec():
    from tfk_ernerf.plugin import tfk_model

    opt = next(o for o in tfk_model().options["train"] if o.dest == "audio_features")
    assert opt.choices == ("deepspeech", "hubert", "wav2vec")


def test_cli_train_and_infer_with_wav2vec(tfk_cli, tfk_home, monkeypatch, w2v_subject, tiny_wav2vec, speech, tmp_path):
    import shutil

    monkeypatch.setenv("TFK_PLUGIN_MODULES", "ernerf=tfk_ernerf.plugin")
    monkeypatch.setenv("TFK_OFFLINE", "1")
    ws = tmp_path / "ws"
    shutil.copytree(w2v_subject, ws)
    base = ("--uid", "eo", "--workspace", str(ws))
    r = tfk_cli("train", "ernerf", *base, "--preset", "tiny", "--stage", "torso", "--audio-features", "deepspeech")
    assert r.exit_code == 78, r.stderr  # the head was trained on wav2vec: an incompatible resume
    assert "trained on wav2vec audio features" in r.stderr and "--audio-features wav2vec" in r.stderr
    out = tmp_path / "o.mp4"
    r = tfk_cli("infer", "ernerf", *base, "--audio", str(speech), "-o", str(out), "--merge", "none")
    assert r.exit_code == 69, r.stderr  # an empty store: the wav2vec2 weights are missing, never downloaded
    assert "tfk weights pull shared/wav2vec2_xlsr53_esperanto_config" in r.stderr and not out.exists()
    r = tfk_cli(
        "infer",
        "ernerf",
        *base,
        "--audio",
        str(speech),
        "-o",
        str(out),
        "--merge",
        "none",
        "--audio-model",
        str(tiny_wav2vec),
    )
    assert r.exit_code == 0, r.stderr
    assert probe(out).n_frames == 20
