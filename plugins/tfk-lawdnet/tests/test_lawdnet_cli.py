"""The plugin through the real tfk command line (in-process), discovered via TFK_PLUGIN_MODULES."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(tfk_cli, monkeypatch):
    monkeypatch.setenv("TFK_PLUGIN_MODULES", "lawdnet=tfk_lawdnet.plugin")
    monkeypatch.setenv("TFK_OFFLINE", "1")
    return tfk_cli


def test_models_lists_lawdnet_with_its_stages(cli):
    r = cli("models")
    assert r.exit_code == 0, r.stderr
    assert "lawdnet" in r.stdout


def test_pull_prints_the_import_commands_for_manual_weights(cli):
    r = cli("weights", "pull", "lawdnet", "--dry-run")
    assert r.exit_code == 69
    assert "tfk weights import lawdnet/checkpoint_epoch_170" in r.stderr
    assert "pan.baidu.com" in r.stderr
    assert "shared/deepspeech_pytorch_v3" in r.stderr + r.stdout  # the public DP2 weights are pulled too


def test_infer_end_to_end_through_the_cli(cli, short_template, tiny_weights, tmp_path):
    from tfk.media import count_frames
    from tfk.testing.synth import make_audio_file

    r = cli("weights", "import", "shared/deepspeech_pytorch_v3", str(tiny_weights["dp2"]))
    assert r.exit_code == 0, r.stderr
    audio = make_audio_file(tmp_path / "a.m4a", seconds=0.7, rate=48000, channels=2, fmt="m4a")
    out = tmp_path / "cli.mp4"
    args = ["infer", "lawdnet", "--video", str(short_template), "--audio", str(audio), "-o", str(out)]
    args += ["--checkpoint", str(tiny_weights["generator"]), "--mouth-size", "64", "--grid-size", "8"]
    r = cli(*args, "--device", "cpu", "--batch-size", "6")
    assert r.exit_code == 0, r.stderr
    assert str(out) in r.stdout and count_frames(out, exact=True) in (18, 19)  # 0.7 s + AAC priming

    r = cli(*args, "--audio-frontend", "dp1")
    assert r.exit_code == 2
    assert "DP2" in r.stderr


def test_infer_without_weights_says_how_to_get_them(cli, short_template, tmp_path):
    from tfk.testing.synth import make_audio_file

    audio = make_audio_file(tmp_path / "a.wav", seconds=0.3)
    r = cli("infer", "lawdnet", "--video", str(short_template), "--audio", str(audio), "--device", "cpu")
    assert r.exit_code == 69
    assert "tfk weights import lawdnet/checkpoint_epoch_170" in r.stderr


def test_infer_to_an_unwritable_location_is_one_error_line_naming_it(cli, short_template, tmp_path):
    """Checked before the weights lookup, so it holds on a machine with no weights yet (issue 9 item 6)."""
    from tfk.testing.synth import make_audio_file

    out = "/sys/tfk-dubbed.mp4"  # not even root may create files here
    audio = make_audio_file(tmp_path / "a.wav", seconds=0.3)
    r = cli("infer", "lawdnet", "--video", str(short_template), "--audio", str(audio), "-o", out)
    assert r.exit_code == 73, r.stderr
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errs) == 1 and out in errs[0] and "Traceback" not in r.stderr
