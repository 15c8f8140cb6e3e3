"""Evaluate writes metrics.json with honest skips; the demo runs every post-preprocess stage end to end."""

from __future__ import annotations

import json

import pytest
from tfk_ernerf.evaluate import evaluate

from tfk.media import probe
from tfk.plugin import StageContext

pytestmark = pytest.mark.slow


def test_evaluate_scores_the_val_split(subject_ws, tmp_path):
    res = evaluate(subject_ws, "alice", tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["frames"] == 2 == res["frames"]
    m = saved["metrics"]
    assert 5 < m["psnr"] < 60 and -1 <= m["ssim"] <= 1
    # the store is empty in tests: LPIPS / SyncNet are skipped with a reason, never faked
    assert "lpips" in saved["skipped"] and "lpips" not in m
    assert "lse" in saved["skipped"] or "lse" in saved["errors"]
    assert "lmd" in m or "lmd" in saved["errors"] or "lmd" in saved["skipped"]
    assert probe(tmp_path / "eval" / "render.mp4").n_frames == 2


def test_demo_runs_end_to_end(tmp_path, capsys):
    ctx = StageContext(model="ernerf", stage="demo", home=tmp_path / "home")
    demo = __import__("tfk_ernerf.demo", fromlist=["demo"]).demo
    video = demo(ctx, {"out": tmp_path / "demo", "seconds": 0.6, "steps": 30})
    info = probe(video)
    assert info.n_frames == 12 and info.audio_codec == "aac"  # 25 x 0.48 s of speech
    assert (tmp_path / "demo" / "ernerf_demo.png").is_file()
    assert "stand-in" in (tmp_path / "demo" / "README.txt").read_text()
    assert "stand-ins:" in capsys.readouterr().err  # printed for the user, not only written to README.txt
