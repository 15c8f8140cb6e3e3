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


def test_output_equal_to_the_template_is_refused_before_the_weights(cli, short_template, tmp_path):
    """No weights here: without the check this would be exit 69 (or overwrite the template)."""
    import shutil

    from tfk.testing.synth import make_audio_file

    tpl = tmp_path / "in.mp4"
    shutil.copy(short_template, tpl)
    link = tmp_path / "link.mp4"
    link.symlink_to(tpl)
    audio = make_audio_file(tmp_path / "a.wav", seconds=0.3)
    before = tpl.read_bytes()
    for out in (tpl, link):
        r = cli("infer", "lawdnet", "--video", str(tpl), "--audio", str(audio), "-o", str(out), "--device", "cpu")
        assert r.exit_code == 2, r.stderr
        assert "would be overwritten" in r.stderr
    r = cli("infer", "lawdnet", "--video", str(tpl), "--audio", str(audio), "-o", str(audio.with_suffix(".mp4")))
    assert r.exit_code == 69  # a different output goes on to the weights lookup
    assert tpl.read_bytes() == before


@pytest.mark.parametrize(
    ("flag", "value"), [("--batch-size", "0"), ("--grid-size", "0"), ("--mouth-size", "63"), ("--smooth", "-1")]
)
def test_invalid_values_are_usage_errors(cli, short_template, tmp_path, flag, value):
    from tfk.testing.synth import make_audio_file

    audio = make_audio_file(tmp_path / "a.wav", seconds=0.3)
    r = cli("infer", "lawdnet", "--video", str(short_template), "--audio", str(audio), flag, value)
    assert r.exit_code == 2, r.stderr
    assert flag in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_cold_template_is_decoded_twice_and_a_warm_one_once(cli, short_template, tiny_weights, tmp_path, monkeypatch):
    """Count the decodes of every tfk.media entry point during ``tfk infer lawdnet``.

    Before the stage runner: 5 decodes of a cold template (preflight x2, landmarks, crops, dubbing) and 3 of
    the audio (preflight x2, dubbing). Now: template 2 cold (landmarks+crops in one pass, dubbing), 1 warm;
    audio 2 (the runner's preflight, the dubbing).
    """
    import shutil
    from collections import Counter

    import tfk.media
    from tfk.media import audio as m_audio
    from tfk.media import frames as m_frames
    from tfk.media import info as m_info
    from tfk.media import normalize as m_norm
    from tfk.testing.synth import make_audio_file

    r = cli("weights", "import", "shared/deepspeech_pytorch_v3", str(tiny_weights["dp2"]))
    assert r.exit_code == 0, r.stderr
    tpl = tmp_path / "tpl.mp4"
    shutil.copy(short_template, tpl)  # a fresh path: nothing cached in this process
    wav = make_audio_file(tmp_path / "a.wav", seconds=0.6)
    counts: Counter[tuple[str, str]] = Counter()

    def counting(name, fn, arg=0):
        def wrapper(*a, **k):
            path = a[arg] if len(a) > arg else next(iter(k.values()))
            counts[
                (name, getattr(path, "path", path).name if hasattr(getattr(path, "path", path), "name") else "?")
            ] += 1
            return fn(*a, **k)

        return wrapper

    for mod, name in ((m_frames, "iter_frames"), (m_audio, "load_audio"), (m_audio, "extract_audio"),
                      (m_norm, "normalize_video")):  # fmt: skip
        wrapped = counting(name, getattr(mod, name))
        monkeypatch.setattr(mod, name, wrapped)
        monkeypatch.setattr(tfk.media, name, wrapped, raising=False)
    monkeypatch.setattr(m_info, "_decode_check", counting("decode_check", m_info._decode_check))

    args = [
        "infer",
        "lawdnet",
        "--video",
        str(tpl),
        "--audio",
        str(wav),
        "--checkpoint",
        str(tiny_weights["generator"]),
    ]
    args += ["--mouth-size", "64", "--grid-size", "8", "--device", "cpu", "--batch-size", "8"]
    r = cli(*args, "-o", str(tmp_path / "cold.mp4"))
    assert r.exit_code == 0, r.stderr
    cold = Counter({k: v for k, v in counts.items()})
    counts.clear()
    r = cli(*args, "-o", str(tmp_path / "warm.mp4"))
    assert r.exit_code == 0, r.stderr
    warm = Counter(counts)
    print("cold:", dict(cold), "warm:", dict(warm))

    def total(c, fname):
        return sum(v for (_, f), v in c.items() if f == fname)

    assert total(cold, "tpl.mp4") == 2 and total(warm, "tpl.mp4") == 1
    assert total(cold, "a.wav") == 2
