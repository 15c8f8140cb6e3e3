"""The plugin through the real tfk command line (in-process): listing, manual weights, clear refusals."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(tfk_cli, monkeypatch):
    monkeypatch.setenv("TFK_PLUGIN_MODULES", "phadtf=tfk_phadtf.plugin")
    monkeypatch.setenv("TFK_OFFLINE", "1")
    return tfk_cli


def test_models_lists_phadtf(cli):
    r = cli("models")
    assert r.exit_code == 0, r.stderr
    assert "phadtf" in r.stdout


def test_pull_prints_the_import_commands_for_manual_weights(cli):
    r = cli("weights", "pull", "phadtf", "--dry-run")
    assert r.exit_code == 69
    assert "tfk weights import phadtf/atcnet_lstm_general" in r.stderr
    assert "phadtf/arcface_r100" in r.stderr


def test_short_clip_is_refused_with_a_one_line_error(cli, shared_media):
    r = cli("preprocess", "phadtf", str(shared_media / "WDA_KatieHill_000.mp4"), "--uid", "short")
    assert r.exit_code == 65
    assert "8.0 s long; PHADTF needs at least 16 s" in r.stderr
    assert "Traceback" not in r.stderr


def test_infer_before_preprocess_says_what_to_run(cli, shared_media):
    r = cli("infer", "phadtf", "--uid", "nobody", "--audio", str(shared_media / "RD_Radio34_002.wav"))
    assert r.exit_code == 66
    assert "tfk preprocess phadtf" in r.stderr
