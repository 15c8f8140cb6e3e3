"""The command line end to end with the echo fixture plugin: exit codes, runs, resume, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfk.errors import ExitCode


@pytest.fixture
def echo_mirror(tmp_path, monkeypatch):
    """A file:// mirror that holds the echo plugin's weights."""
    from tfk_echo.plugin import WEIGHTS_BYTES, WEIGHTS_SHA256

    root = tmp_path / "mirror"
    d = root / "sha256" / WEIGHTS_SHA256
    d.mkdir(parents=True)
    (d / "echo-model.bin").write_bytes(WEIGHTS_BYTES)
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", root.as_uri())
    return root


def test_version_and_help(tfk_cli):
    res = tfk_cli("--version")
    assert res.exit_code == 0 and res.stdout.startswith("tfk ")
    res = tfk_cli("--help")
    assert res.exit_code == 0
    for verb in ("preprocess", "train", "infer", "evaluate", "weights", "models", "doctor", "status"):
        assert verb in res.stdout


def test_usage_error_exit_code(tfk_cli):
    res = tfk_cli("nosuchverb")
    assert res.exit_code == ExitCode.USAGE


def test_missing_input_file_is_66(tfk_cli, tmp_path):
    res = tfk_cli("infer", "echo", "--video", str(tmp_path / "nope.mp4"))
    assert res.exit_code == ExitCode.NO_INPUT
    assert res.stderr.startswith("error: video file not found")
    assert len(res.stderr.strip().splitlines()) == 1


def test_not_media_is_65(tfk_cli, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    res = tfk_cli("infer", "echo", "--video", str(bad))
    assert res.exit_code == ExitCode.BAD_INPUT
    assert "Traceback" not in res.stderr and res.stderr.startswith("error:")


def test_infer_end_to_end_writes_video_and_run_manifest(tfk_cli, synthetic_clip, tmp_path, echo_mirror, tfk_home):
    out = tmp_path / "out.mp4"
    res = tfk_cli("infer", "echo", "--video", str(synthetic_clip), "-o", str(out), "--invert", "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    assert Path(res.stdout.strip()) == out
    from tfk.media import probe

    info = probe(out)
    src = probe(synthetic_clip)
    assert info.n_frames == src.n_frames == 100
    assert info.has_audio and abs(info.duration - src.duration) <= 1 / 25 + 1e-6
    runs = list((tfk_home / "runs" / "echo" / "_").iterdir())
    assert len(runs) == 1
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["exit_code"] == 0
    assert manifest["artifacts"]["echo/model"]["sha256"]
    assert str(synthetic_clip) in manifest["inputs"]
    assert manifest["config"]["invert"] is True
    assert (runs[0] / "log.txt").exists()


def test_offline_without_weights_is_69_with_fix(tfk_cli, synthetic_clip, monkeypatch, tfk_home):
    monkeypatch.setenv("TFK_OFFLINE", "1")
    res = tfk_cli("infer", "echo", "--video", str(synthetic_clip), "-o", str(tfk_home / "o.mp4"), "--device", "cpu")
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "echo/model" in res.stderr
    manifest = json.loads(next((tfk_home / "runs" / "echo" / "_").iterdir()).joinpath("manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["exit_code"] == ExitCode.UNAVAILABLE


def test_hook_tfk_preprocess_interrupt_resume_and_status(tfk_cli, synthetic_clip, tfk_home):
    res = tfk_cli(
        "preprocess", "echo", str(synthetic_clip), "--uid", "alice", "--chunk", "10", "--interrupt-after", "3"
    )
    assert res.exit_code == ExitCode.INTERRUPTED, res.stderr
    ws = tfk_home / "subjects" / "alice" / "echo"
    partial = ws / "steps" / "frame_stats.partial"
    kept = sorted(p.name for p in partial.glob("chunk_*.json"))
    assert kept == ["chunk_00000.json", "chunk_00001.json", "chunk_00002.json"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in partial.glob("chunk_*.json")}
    res = tfk_cli("status", "echo", "--uid", "alice", "--json")
    states = {s["step"]: s["state"] for s in json.loads(res.stdout)["steps"]}
    assert states == {"normalise": "done", "frame_stats": "missing", "summary": "missing"}

    res = tfk_cli("preprocess", "echo", str(synthetic_clip), "--uid", "alice", "--chunk", "10")
    assert res.exit_code == 0, res.stderr
    final = ws / "steps" / "frame_stats"
    assert {p.name: p.stat().st_mtime_ns for p in final.glob("chunk_0000[0-2].json")} == mtimes
    summary = json.loads((ws / "steps" / "summary" / "summary.json").read_text())
    assert summary["frames"] == 100

    res = tfk_cli("status", "echo", "--uid", "alice", "--json")
    assert all(s["state"] == "done" for s in json.loads(res.stdout)["steps"])
    res = tfk_cli("preprocess", "echo", str(synthetic_clip), "--uid", "alice", "--chunk", "20")
    assert res.exit_code == 0
    res = tfk_cli("status", "echo", "--uid", "alice", "--json")
    assert all(s["state"] == "done" for s in json.loads(res.stdout)["steps"])


def test_status_of_unknown_subject_is_66(tfk_cli):
    res = tfk_cli("status", "echo", "--uid", "nobody")
    assert res.exit_code == ExitCode.NO_INPUT
    assert "tfk preprocess echo" in res.stderr


def test_doctor_reports_ffmpeg_and_plugins(tfk_cli):
    res = tfk_cli("doctor", "--json")
    data = json.loads(res.stdout)
    checks = {(c["area"], c["check"]): c for c in data["checks"]}
    assert checks[("media", "ffmpeg")]["status"] == "ok"
    assert checks[("toolbox", "face parsing")]["status"] == "warn"
    assert "fallback" in checks[("toolbox", "face parsing")]["detail"]
    assert res.exit_code in (0, ExitCode.UNAVAILABLE)


def test_download_weights_verb_pulls_the_manifest(tfk_cli, echo_mirror):
    res = tfk_cli("download-weights", "echo")
    assert res.exit_code == 0, res.stderr
    res = tfk_cli("weights", "path", "echo/model")
    assert res.exit_code == 0
    assert Path(res.stdout.strip()).read_bytes().startswith(b"tfk-echo weights v1")


def test_evaluate_videos_builtin_writes_json_and_table(tfk_cli, synthetic_clip, tmp_path, tfk_home):
    out = tmp_path / "m.json"
    res = tfk_cli(
        "evaluate",
        "videos",
        str(synthetic_clip),
        str(synthetic_clip),
        "--metrics",
        "psnr,ssim",
        "-o",
        str(out),
        "--device",
        "cpu",
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["metrics"]["psnr"] == 100.0 and abs(data["metrics"]["ssim"] - 1.0) < 1e-9
    assert json.loads(res.stdout)["metrics"]["psnr"] == 100.0
    assert "psnr" in res.stderr  # the table
    run = next((tfk_home / "runs" / "videos" / "_").iterdir())
    assert json.loads((run / "metrics.json").read_text())["metrics"]["ssim"] > 0.999


def test_evaluate_videos_refuses_unresolvable_length_mismatch(tfk_cli, synthetic_clip, tmp_path):
    from tfk.testing.synth import make_talking_clip

    short = make_talking_clip(tmp_path / "short.mp4", seconds=2.0)
    res = tfk_cli("evaluate", "videos", str(short), str(synthetic_clip), "--metrics", "psnr", "--device", "cpu")
    assert res.exit_code == ExitCode.BAD_INPUT
    assert "50" in res.stderr and "100" in res.stderr


def test_workspace_without_uid_is_a_usage_error(tfk_cli, synthetic_clip, tmp_path):
    res = tfk_cli("infer", "echo", "--video", str(synthetic_clip), "--workspace", str(tmp_path / "ws"))
    assert res.exit_code == ExitCode.USAGE
    assert "--workspace needs --uid" in res.stderr and len(res.stderr.strip().splitlines()) == 1
