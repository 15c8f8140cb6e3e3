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


@pytest.mark.slow
def test_infer_face_only_through_the_cli(cli, subject_ctx, tiny_weights, synthetic_bfm, tmp_path):
    import numpy as np

    from tfk.media import count_frames, probe, write_wav

    audio = write_wav(tmp_path / "s.wav", (0.1 * np.sin(np.arange(8000) / 5.0)).astype(np.float32))
    out = tmp_path / "cli.mp4"
    ws = subject_ctx.workspace
    r = cli(
        "infer",
        "phadtf",
        "--uid",
        ws.uid,
        "--workspace",
        str(ws.root),
        "--audio",
        str(audio),
        "-o",
        str(out),
        "--face-only",
        "--pose",
        "video",
        "--atcnet",
        str(tiny_weights["atcnet"]),
        "--net-g",
        str(tiny_weights["net_g"]),
        "--net-mem",
        str(tiny_weights["net_mem"]),
        "--face-model",
        str(synthetic_bfm["BFM_model_front.mat"]),
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.stderr
    info = probe(out)
    assert (info.width, info.height) == (256, 256) and count_frames(out, exact=True) == 13  # 25 x 0.5 s
