"""The core stage runner: typed options, outputs that would overwrite inputs, interruption, the demo hook."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from tfk.errors import ExitCode, UsageError

PLUGIN = textwrap.dedent("""
    from pathlib import Path
    from tfk.plugin import ModelInfo, Option, hookimpl

    CALLS = []

    def _odd(v):
        if v % 2 == 0:
            raise ValueError(f"must be odd, got {v}")

    @hookimpl
    def tfk_model():
        return ModelInfo(summary="runner probe", version="1", options={
            "infer": [
                Option("video", Path, required=True, exists=True),
                Option("output", Path, short="-o", output=True),
                Option("batch_size", int, default=20, min=1),
                Option("grid_size", int, min=2, max=100),
                Option("taps", int, default=3, validator=_odd),
                Option("ratio", float, default=0.5, min=0.0, max=1.0),
                Option("stop", bool, default=False),
            ],
            "preprocess": [Option("video", Path, required=True, exists=True, argument=True)],
            "demo": [Option("out", Path, default=Path("probe-demo"))],
        })

    @hookimpl
    def tfk_infer(ctx, options):
        CALLS.append(dict(options))
        if options["stop"]:
            raise KeyboardInterrupt
        return "ran"

    @hookimpl
    def tfk_preprocess(ctx, options):
        CALLS.append(dict(options))
        return "pre"

    @hookimpl
    def tfk_demo(ctx, options):
        CALLS.append(dict(options))
        return f"demo in {options['out']} on {ctx.device}"
""")


@pytest.fixture
def probe_plugin(tmp_path, load_probe_plugin):
    runner_probe = load_probe_plugin("probe", "runner_probe", PLUGIN)
    runner_probe.CALLS.clear()
    video = tmp_path / "in.mp4"
    video.write_bytes(b"not checked: no media declared")
    return runner_probe, video


def test_options_are_parsed_once_with_declared_defaults(probe_plugin):
    from tfk.runner import run_stage

    mod, video = probe_plugin
    assert run_stage("probe", "infer", {"video": str(video)}, device="cpu") == "ran"
    (opts,) = mod.CALLS
    assert opts == {
        "video": video,
        "output": None,
        "batch_size": 20,
        "grid_size": None,
        "taps": 3,
        "ratio": 0.5,
        "stop": False,
    }


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--batch-size", "0"], "must be at least 1, got 0"),
        (["--grid-size", "0"], "must be at least 2, got 0"),
        (["--grid-size", "101"], "must be at most 100"),
        (["--taps", "4"], "must be odd, got 4"),
        (["--ratio", "1.5"], "must be at most 1"),
        (["--ratio", "nan"], "not a finite number"),
    ],
)
def test_invalid_values_are_usage_errors_before_any_work(probe_plugin, tfk_cli, args, fragment):
    mod, video = probe_plugin
    res = tfk_cli("infer", "probe", "--video", str(video), *args)
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert fragment in res.stderr and "Traceback" not in res.stderr
    assert mod.CALLS == []  # the plugin never ran


def test_run_stage_validates_like_the_cli(probe_plugin):
    from tfk.runner import run_stage

    mod, video = probe_plugin
    with pytest.raises(UsageError, match="--batch-size: must be at least 1"):
        run_stage("probe", "infer", {"video": video, "batch_size": 0})
    with pytest.raises(UsageError, match="unknown option"):
        run_stage("probe", "infer", {"video": video, "bogus": 1})
    with pytest.raises(UsageError, match="missing option --video"):
        run_stage("probe", "infer", {})
    assert mod.CALLS == []


def test_uid_with_a_trailing_newline_is_refused(probe_plugin, tfk_cli):
    mod, video = probe_plugin
    res = tfk_cli("preprocess", "probe", str(video), "--uid", "abc\n")
    assert res.exit_code == ExitCode.USAGE
    assert "Traceback" not in res.stderr
    assert mod.CALLS == []
    res = tfk_cli("preprocess", "probe", str(video), "--uid", "abc")
    assert res.exit_code == 0, res.stderr


def test_output_that_is_an_input_is_refused(probe_plugin, tfk_cli, tmp_path):
    mod, video = probe_plugin
    link = tmp_path / "link.mp4"
    link.symlink_to(video)
    hard = tmp_path / "hard.mp4"
    os.link(video, hard)
    for out in (video, link, hard, tmp_path / "plug" / ".." / "in.mp4"):
        res = tfk_cli("infer", "probe", "--video", str(video), "-o", str(out))
        assert res.exit_code == ExitCode.USAGE, res.stderr
        assert "would be overwritten" in res.stderr
    assert mod.CALLS == []
    assert video.read_bytes().startswith(b"not checked")


def test_echo_refuses_to_overwrite_its_input_before_the_weights_lookup(tfk_cli, synthetic_clip, tmp_path):
    """No weights are available here: the refusal must come first (exit 2, not 69)."""
    import shutil

    src = tmp_path / "clip.mp4"
    shutil.copy(synthetic_clip, src)
    before = src.read_bytes()
    res = tfk_cli("infer", "echo", "--video", str(src), "-o", str(src), "--device", "cpu")
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert src.read_bytes() == before


def test_ctrl_c_during_infer_prints_the_interrupted_line(probe_plugin, tfk_cli, tfk_home):
    import json

    _, video = probe_plugin
    res = tfk_cli("infer", "probe", "--video", str(video), "--stop", "--device", "cpu")
    assert res.exit_code == ExitCode.INTERRUPTED
    lines = res.stderr.strip().splitlines()
    assert lines[0] == "error: interrupted during infer; nothing half-written was kept"
    assert lines[1] == "hint: run the same command again to resume"
    manifest = json.loads(next((tfk_home / "runs" / "probe" / "_").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["exit_code"] == ExitCode.INTERRUPTED


def test_hook_tfk_demo(probe_plugin, tfk_cli, tmp_path):
    res = tfk_cli("demo", "probe", "--out", str(tmp_path / "d"), "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == f"demo in {tmp_path / 'd'} on cpu"
    res = tfk_cli("demo", "echo")
    assert res.exit_code == ExitCode.USAGE and "echo does not implement demo" in res.stderr


def test_demo_without_a_model_is_lawdnets(tfk_cli):
    res = tfk_cli("demo", "--help")
    assert res.exit_code == 0, res.stderr
    assert "lawdnet" in res.stdout
    res = tfk_cli("demo", "--seconds", "0")  # no model named: lawdnet's demo options apply (and are checked)
    assert res.exit_code == ExitCode.USAGE and "--seconds" in res.stderr and "at least 1" in res.stderr


def test_one_device_resolver(monkeypatch):
    from tfk.device import resolve_device
    from tfk.errors import DeviceUnavailable

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(UsageError):
        resolve_device("tpu")
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailable):
        resolve_device("cuda:0")


def test_preflight_decodes_a_file_once_per_process(synthetic_clip, monkeypatch):
    from tfk.media import info as media_info

    calls = []
    real = media_info._decode_check
    monkeypatch.setattr(media_info, "_decode_check", lambda *a, **k: (calls.append(a), real(*a, **k))[1])
    media_info._CHECKED.clear()
    a = media_info.preflight(synthetic_clip, video=True, audio=True)
    b = media_info.preflight(synthetic_clip, video=True, audio=True)
    c = media_info.preflight(synthetic_clip, video=True, audio=True, decode=False)  # a decoded check covers it
    assert a == b == c and len(calls) == 1
    os.utime(synthetic_clip)  # a touched file is checked again
    media_info.preflight(synthetic_clip, video=True, audio=True)
    assert len(calls) == 2


def test_the_registry_hands_artifacts_to_the_store():
    """The weights catalog knows the toolboxes' and plugins' artifacts without importing the registry."""
    import subprocess

    code = textwrap.dedent("""
        import sys
        from tfk.weights import catalog
        arts = catalog.all_artifacts()
        print("shared/fan_2d" in arts, "echo/model" in arts, "tfk.registry" in sys.modules)
    """)
    env = dict(os.environ, TFK_PLUGIN_MODULES="echo=tfk_echo.plugin")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["True", "True", "True"]  # loaded on demand through the composition root
    src = (Path(__file__).resolve().parents[2] / "tfk" / "weights" / "catalog.py").read_text()
    import re

    assert not re.search(r"^\s*(from tfk(\.registry)? import|import tfk\.registry)", src, re.M)


@pytest.mark.parametrize(("err", "code"), [(28, ExitCode.TEMPFAIL), (30, ExitCode.CANT_CREATE)])
def test_a_full_disk_or_read_only_location_inside_a_stage_is_not_a_crash(tmp_path, err, code):
    """ENOSPC / EROFS raised anywhere in a plugin: DiskFull (75) / OutputNotWritable (73), never 70."""
    from tfk.runner import run_guard

    target = tmp_path / "out.mp4"
    with pytest.raises(Exception) as exc, run_guard(None, "infer", plugin="echo"):
        raise OSError(err, os.strerror(err), str(target))
    assert int(exc.value.exit_code) == code
    assert not getattr(exc.value, "_tfk_plugin", None)  # not reported as a plugin crash


@pytest.mark.parametrize(("model", "stage"), [("ernerf", "infer"), ("dfrf", "evaluate"), ("phadtf", "infer")])
def test_a_stage_that_works_on_a_subject_needs_uid(tfk_cli, tmp_path, model, stage):
    """``ModelInfo.subject_stages``: the CLI and the runner refuse the stage without ``--uid`` (exit 2)."""
    from tfk.runner import run_stage
    from tfk.testing.synth import make_audio_file

    args = ["--audio", str(make_audio_file(tmp_path / "a.wav", seconds=0.2))] if stage == "infer" else []
    res = tfk_cli(stage, model, *args, "--device", "cpu")
    assert res.exit_code == 2 and "--uid" in res.stderr
    with pytest.raises(UsageError, match="needs --uid"):
        run_stage(model, stage, {"audio": args[1]} if args else {}, device="cpu")
