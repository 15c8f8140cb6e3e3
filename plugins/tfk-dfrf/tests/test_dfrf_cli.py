"""The plugin through the real tfk command line (in-process): train, infer, evaluate on a synthetic subject."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def cli(tfk_cli, tfk_home, monkeypatch):
    monkeypatch.setenv("TFK_PLUGIN_MODULES", "dfrf=tfk_dfrf.plugin")
    monkeypatch.setenv("TFK_OFFLINE", "1")
    return tfk_cli


def test_models_lists_dfrf(cli):
    r = cli("models")
    assert r.exit_code == 0, r.stderr
    assert "dfrf" in r.stdout


def test_finetune_without_the_base_model_says_how_to_get_it(cli, tfk_home):
    from tfk_dfrf.testing_scene import write_synthetic_subject

    write_synthetic_subject(tfk_home / "subjects" / "bob" / "dfrf", n_frames=10, size=16)
    r = cli("train", "dfrf", "--uid", "bob", "--preset", "tiny", "--device", "cpu")
    assert r.exit_code == 69, r.stderr
    assert "dfrf/base_model" in r.stderr


@pytest.mark.slow
def test_train_infer_evaluate_through_the_cli(cli, tfk_home, tmp_path):
    import numpy as np
    from tfk_dfrf.features import standin_deepspeech
    from tfk_dfrf.testing_scene import write_synthetic_subject

    from tfk.media import probe
    from tfk.testing.synth import make_audio_file

    ws = tfk_home / "subjects" / "bob" / "dfrf"
    write_synthetic_subject(ws, n_frames=10, size=16)
    r = cli("train", "dfrf", "--uid", "bob", "--from", "scratch", "--preset", "tiny", "--steps", "2", "--device", "cpu")
    assert r.exit_code == 0, r.stderr
    assert (ws / "checkpoints" / "000002_head.tar").is_file()

    audio = make_audio_file(tmp_path / "a.wav", seconds=0.4)
    feats = tmp_path / "a.npy"
    np.save(feats, standin_deepspeech(np.zeros(6400, dtype=np.float32)))
    out = tmp_path / "o.mp4"
    r = cli(
        "infer",
        "dfrf",
        "--uid",
        "bob",
        "--audio",
        str(audio),
        "--features",
        str(feats),
        "-o",
        str(out),
        "--quality",
        "fast",
        "--references",
        "0,1,2,3",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.stderr
    info = probe(out)
    assert info.n_frames == 10 and info.has_audio

    r = cli(
        "evaluate",
        "dfrf",
        "--uid",
        "bob",
        "--quality",
        "fast",
        "--references",
        "0,1,2,3",
        "--max-frames",
        "2",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.stderr
    assert "psnr" in r.stdout.lower()

    r = cli(
        "infer",
        "dfrf",
        "--uid",
        "bob",
        "--audio",
        str(audio),
        "--features",
        str(feats),
        "-o",
        str(out),
        "--device",
        "cpu",
    )
    assert r.exit_code != 0 and "201" in r.stderr
    assert Path(out).is_file()


def _files(root: Path) -> dict[str, int]:
    """Every file under ``root`` (but the lock files) with its modification time."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if not p.name.startswith(".lock")}


def test_base_model_on_two_subjects_through_the_cli(cli, tfk_home):
    """``tfk train dfrf --uid a,b --base``: both subjects read, the base goes to models/dfrf/base/a+b."""
    from tfk_dfrf.models.dfrf import head_checkpoints
    from tfk_dfrf.testing_scene import write_synthetic_subject

    subjects = {u: tfk_home / "subjects" / u / "dfrf" for u in ("a", "b")}
    for seed, ws in enumerate(subjects.values()):
        write_synthetic_subject(ws, n_frames=10, size=16, seed=seed)
    before = {u: _files(ws) for u, ws in subjects.items()}

    args = ("train", "dfrf", "--uid", "a,b", "--base", "--preset", "tiny", "--device", "cpu")
    r = cli(*args, "--steps", "2")
    assert r.exit_code == 0, r.stderr
    base = tfk_home / "models" / "dfrf" / "base" / "a+b"
    assert Path(r.stdout.strip()) == base / "000002_head.tar"
    assert {u: _files(ws) for u, ws in subjects.items()} == before  # the subjects were only read
    (run,) = (tfk_home / "runs" / "dfrf" / "a+b").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["uid"] == "a,b" and manifest["outputs"]["checkpoint"]

    r = cli(*args, "--steps", "3")  # the same command resumes from the base run's newest checkpoint
    assert r.exit_code == 0, r.stderr
    assert [p.name for p in head_checkpoints(base)] == ["000002_head.tar", "000003_head.tar"]


def test_several_subjects_without_base_or_with_a_missing_one_are_refused(cli, tfk_home):
    from tfk_dfrf.testing_scene import write_synthetic_subject

    write_synthetic_subject(tfk_home / "subjects" / "a" / "dfrf", n_frames=10, size=16)
    r = cli("train", "dfrf", "--uid", "a,b", "--preset", "tiny", "--device", "cpu")
    assert r.exit_code == 2 and "tfk train dfrf takes several uids only with --base" in r.stderr
    r = cli("train", "dfrf", "--uid", "a,b", "--base", "--preset", "tiny", "--device", "cpu")
    assert r.exit_code == 66 and "subject 'b' has no dfrf workspace" in r.stderr
    r = cli("infer", "dfrf", "--uid", "a,b", "--audio", "x.wav", "--device", "cpu")
    assert r.exit_code == 2 and "tfk infer dfrf takes one --uid" in r.stderr
    assert not (tfk_home / "models").exists()


def test_entry_module_is_light():
    import subprocess
    import sys

    code = "import sys, tfk_dfrf.plugin, tfk_dfrf.artifacts; assert 'torch' not in sys.modules, 'torch imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
