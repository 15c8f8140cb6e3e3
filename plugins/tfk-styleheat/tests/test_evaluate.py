"""Same-identity reconstruction metrics through tfk.metrics on the shared clip (tiny weights)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_reconstruction_metrics(tmp_path, shared_media, fake_require):
    from tfk_styleheat.evaluate import evaluate

    from tfk.media import probe

    res = evaluate(
        shared_media / "WDA_KatieHill_000.mp4",
        tmp_path,
        resolution=256,
        batch_size=4,
        frame_limit=4,
        metrics="psnr,ssim",
        require=fake_require,
        cache_dir=tmp_path / "cache",
    )
    m = res["metrics"]
    assert 0 < m["psnr"] < 60 and -1 <= m["ssim"] <= 1
    ref, gen = probe(tmp_path / "reference.mp4"), probe(tmp_path / "reconstruction.mp4")
    assert ref.n_frames == gen.n_frames == 4 and (ref.width, gen.width) == (256, 256)
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"]["psnr"] == pytest.approx(m["psnr"])
