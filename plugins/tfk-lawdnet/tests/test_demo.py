"""The README quick start: ``tfk demo`` runs preprocess, tiny training and dubbing on built-in media."""

from __future__ import annotations

from pathlib import Path


def test_demo_runs_the_whole_pipeline_offline(tfk_cli, tmp_path):
    from tfk.media import load_audio, probe

    res = tfk_cli("demo", "--out", str(tmp_path / "demo"), "--seconds", "2", "--device", "cpu", "--train-steps", "1")
    assert res.exit_code == 0, res.stderr
    out = Path(res.stdout.strip())
    assert out == tmp_path / "demo" / "dubbed.mp4"
    last = res.stderr.strip().splitlines()[-1]
    assert "preview.png" in last and "mouth-region PSNR vs the template:" in last and last.endswith(" dB")
    png = tmp_path / "demo" / "preview.png"
    import cv2

    side = cv2.imread(str(png))
    assert side is not None and side.shape[1] == 2 * side.shape[0]  # template | result, both 256x256
    preview = probe(tmp_path / "demo" / "preview.mp4")
    assert preview.n_frames == probe(out).n_frames and preview.width == 2 * preview.height
    info = probe(out)
    speech = load_audio(tmp_path / "demo" / "speech.wav")
    assert info.n_frames == round(len(speech) / 16000 * 25)  # as many frames as the audio needs at 25 fps
    assert info.has_audio and abs(info.audio_duration - info.video_duration) <= 1 / 25
    assert (tmp_path / "demo" / "workspace" / "steps" / "dataset" / "index.json").exists()
    manifests = list((tmp_path / "demo" / "runs").rglob("manifest.json"))
    assert len(manifests) == 2  # train and infer runs


def test_tiny_preset_on_the_shared_real_clip(tfk_cli, tmp_path, shared_media):
    """The tiny preset trains on the real 8 s clip on CPU and dubs it with the real speech WAV."""
    from tfk.media import probe

    res = tfk_cli(
        "demo",
        "--out",
        str(tmp_path / "real"),
        "--video",
        str(shared_media / "WDA_KatieHill_000.mp4"),
        "--audio",
        str(shared_media / "RD_Radio34_002.wav"),
        "--device",
        "cpu",
        "--train-steps",
        "1",
    )
    assert res.exit_code == 0, res.stderr
    info = probe(res.stdout.strip())
    assert info.n_frames == 200 and (info.width, info.height) == (512, 512)
    assert info.has_audio and abs(info.audio_duration - info.video_duration) <= 1 / 25


def test_demo_refuses_a_missing_template(tfk_cli, tmp_path):
    res = tfk_cli("demo", "--out", str(tmp_path / "x"), "--video", str(tmp_path / "nope.mp4"))
    assert res.exit_code == 66 and "video file not found" in res.stderr
