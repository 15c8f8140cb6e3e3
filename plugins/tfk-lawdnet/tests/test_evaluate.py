"""``evaluate``: reconstruction of a clip from its own audio, scored by the shared metrics."""

from __future__ import annotations


def test_evaluate_reconstructs_and_scores(short_template, tiny_weights, fake_require, tmp_path):
    from tfk_lawdnet.evaluate import evaluate

    from tfk.media import count_frames

    res = evaluate(
        short_template,
        checkpoint=str(tiny_weights["generator"]),
        mouth=64,
        grid_size=8,
        batch_size=8,
        sync=False,
        metrics=["psnr", "ssim"],
        output=tmp_path / "rec.mp4",
        require=fake_require,
        cache_root=tmp_path / "c",
    )
    assert res["frames_generated"] == 25 and count_frames(tmp_path / "rec.mp4", exact=True) == 25
    assert res["audio_frontend"] == "dp2"
    # random weights paint the lower face grey: far from perfect, far from noise
    assert 12 < res["psnr"] < 40
    assert 0.3 < res["ssim"] < 0.999
