"""The command line: train / infer / evaluate through ``tfk``, with clear errors and exit codes."""

from __future__ import annotations

import shutil

import pytest

from tfk.media import write_wav
from tfk.testing.synth import synthetic_speech

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(tfk_cli, tfk_home, monkeypatch):
    monkeypatch.setenv("TFK_PLUGIN_MODULES", "ernerf=tfk_ernerf.plugin")
    monkeypatch.setenv("TFK_OFFLINE", "1")
    return tfk_cli


def test_models_lists_the_stages(cli):
    r = cli("models")
    assert r.exit_code == 0, r.stderr
    assert "ernerf" in r.stdout


def test_train_then_infer_through_the_cli(cli, subject_dir, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(subject_dir, ws)
    r = cli("train", "ernerf", "--uid", "alice", "--workspace", str(ws), "--preset", "tiny", "--stage", "head")
    assert r.exit_code == 0, r.stderr
    assert (ws / "train" / "head" / "checkpoints" / "ngp.pth").is_file()
    wav = tmp_path / "s.wav"
    write_wav(wav, synthetic_speech(0.5, 16000, seed=1), 16000)
    # offline with an empty store: the DeepSpeech graph is missing -> exit 69 naming the artifact
    r = cli(
        "infer", "ernerf", "--uid", "alice", "--workspace", str(ws), "--audio", str(wav), "-o", str(tmp_path / "o.mp4")
    )
    assert r.exit_code == 69, r.stderr
    assert "deepspeech" in r.stderr.lower()
    assert "tfk weights pull shared/deepspeech_v010" in r.stderr or "TensorFlow" in r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_infer_without_a_model_names_the_train_command(cli, tmp_path):
    wav = tmp_path / "s.wav"
    write_wav(wav, synthetic_speech(0.5, 16000, seed=1), 16000)
    r = cli("infer", "ernerf", "--uid", "bob", "--workspace", str(tmp_path / "none"), "--audio", str(wav))
    assert r.exit_code == 66, r.stderr
    assert "tfk train ernerf --uid bob" in r.stderr


def test_train_without_data_is_a_clear_error(cli, tmp_path):
    r = cli("train", "ernerf", "--uid", "carol", "--workspace", str(tmp_path / "empty"), "--preset", "tiny")
    assert r.exit_code == 66, r.stderr
    assert "tfk preprocess ernerf" in r.stderr
