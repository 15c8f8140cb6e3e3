"""Evaluation on the held-out frames of the preprocessed clip."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_held_out_evaluation_reports_every_metric(subject, tiny_weights, synthetic_bfm, tmp_path):
    from tfk_phadtf.evaluate import evaluate
    from tfk_phadtf.infer import load_nets
    from tfk_phadtf.resources import face_model

    nets = load_nets(tiny_weights["atcnet"], tiny_weights["net_g"], tiny_weights["net_mem"])
    res = evaluate(subject, nets, face_model(synthetic_bfm["BFM_model_front.mat"]), tmp_path, sync=True)
    assert res["held_out_frames"] == [30, 39]
    assert 0.0 <= res["hs_provisional"] <= 1.0 and 0.0 <= res["hs_provisional_audio_pose"] <= 1.0
    text = str(res)
    for key in ("ssim", "psnr", "cpbd"):
        assert key in text
    assert any("hs_provisional" in n for n in res["notes"])
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "generated.mp4").is_file()
    assert math.isfinite(res["pose_generated"]["diversity"])
