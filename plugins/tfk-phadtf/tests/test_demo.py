"""``tfk demo phadtf`` body: every stage on built-in media with named stand-ins."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_runs_every_stage_and_writes_a_preview(tmp_path):
    from tfk_phadtf.demo import run_demo

    from tfk.media import count_frames, probe

    out = run_demo(tmp_path / "demo", seconds=1.2)
    assert out.is_file() and out.with_suffix(".png").is_file()
    info = probe(out)
    assert info.audio_codec == "aac" and count_frames(out, exact=True) == 25  # synthetic voice: max(1 s, 0.75 x 1.2 s)
    assert (tmp_path / "demo" / "bfm_stand_in").is_dir()  # the stand-in is named on disk too
