"""``tfk demo dfrf`` (the plugin's ``tfk_demo`` hook): every stage on built-in media, MP4 + preview image."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.mark.slow
def test_demo_writes_a_video_and_a_preview(tmp_path, capsys):
    from tfk_dfrf.plugin import tfk_demo

    from tfk.media import probe

    ctx = SimpleNamespace(home=tmp_path, device="cpu", workspace=None, run=None, progress=None)
    out = tfk_demo(ctx, {"out": tmp_path / "demo", "steps": 12})
    info = probe(out)
    assert info.n_frames == 25 and info.has_audio  # 1 s of speech
    assert abs(info.audio_duration - info.video_duration) <= 1 / 25
    assert (tmp_path / "demo" / "dfrf_demo.png").is_file()
    shown = capsys.readouterr().err  # printed for the user, not only logged
    assert "SYNTHETIC stand-in" in shown and "not DeepSpeech" in shown
