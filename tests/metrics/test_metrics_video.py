import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from tfk.errors import BadInput, UsageError
from tfk.metrics.video import evaluate_videos, metrics_table, write_metrics


def _frames(n: int, size: int = 96, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.uint8), (0, 0), 2)
    out = []
    for t in range(n):
        f = base.copy()
        cv2.circle(f, (20 + 2 * t % (size - 40), size // 2), 12, (240, 60, 30), -1)
        cv2.rectangle(f, (size // 2, 10 + t % 20), (size // 2 + 20, 30 + t % 20), (20, 200, 220), -1)
        out.append(f)
    return out


def _write(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "12"}
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def _noisy(frames, sigma=12.0, seed=1):
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    ref = _frames(20)
    return {
        "ref": _write(d / "ref.mp4", ref),
        "noisy": _write(d / "noisy.mp4", _noisy(ref)),
        "plus1": _write(d / "plus1.mp4", ref + _frames(1, seed=5)),
        "plus3": _write(d / "plus3.mp4", ref + _frames(3, seed=5)),
        "big": _write(d / "big.mp4", [cv2.resize(f, (128, 128)) for f in ref]),
    }


def test_identical_vs_noised_copy(clips):
    same = evaluate_videos(clips["ref"], clips["ref"], metrics=["psnr", "ssim", "cpbd"])
    assert same["metrics"]["psnr"] == 100.0 and same["metrics"]["ssim"] == pytest.approx(1.0)
    assert same["frames"] == 20 and same["frames_dropped"] == 0 and not same["errors"]
    noisy = evaluate_videos(clips["noisy"], clips["ref"], metrics="psnr,ssim,cpbd")
    assert 15 < noisy["metrics"]["psnr"] < 40
    assert 0 < noisy["metrics"]["ssim"] < 0.95
    assert noisy["metrics"]["cpbd_reference"] == pytest.approx(same["metrics"]["cpbd"])


def test_three_extra_frames_are_refused(clips):
    with pytest.raises(BadInput, match=r"23.*20"):
        evaluate_videos(clips["plus3"], clips["ref"], metrics=["psnr"])


def test_one_extra_frame_is_truncated(clips):
    res = evaluate_videos(clips["plus1"], clips["ref"], metrics=["psnr", "ssim"])
    assert res["frames_generated"] == 21 and res["frames_reference"] == 20
    assert res["frames"] == 20 and res["frames_dropped"] == 1
    assert res["metrics"]["psnr"] > 60  # the first 20 frames are the same pictures (re-encoded)
    assert any("truncated" in n for n in res["notes"])


def test_generated_is_resized_to_reference(clips):
    res = evaluate_videos(clips["big"], clips["ref"], metrics=["psnr", "ssim"])
    assert res["resized_generated_from"] == [128, 128] and res["size"] == [96, 96]
    assert res["metrics"]["ssim"] > 0.8
    assert any("resized" in n for n in res["notes"])


def test_missing_weights_skipped_for_defaults_error_when_explicit(clips, monkeypatch):
    monkeypatch.setenv("TFK_OFFLINE", "1")  # explicit metrics may download: keep this test offline
    default = evaluate_videos(clips["noisy"], clips["ref"])  # empty store: LPIPS cannot run
    assert "lpips" in default["skipped"] and "tfk weights pull shared/lpips_alex_lin" in default["skipped"]["lpips"]
    assert "lpips" not in default["errors"] and "psnr" in default["metrics"]
    explicit = evaluate_videos(clips["noisy"], clips["ref"], metrics=["psnr", "lpips", "fid"])
    assert set(explicit["errors"]) == {"lpips", "fid"} and not explicit["skipped"]
    assert "tfk weights pull" in explicit["errors"]["fid"]
    assert explicit["metrics"]["psnr"] == pytest.approx(default["metrics"]["psnr"])


def test_unknown_metric_is_usage_error(clips):
    with pytest.raises(UsageError):
        evaluate_videos(clips["ref"], clips["ref"], metrics=["psnr", "vmaf"])


def test_json_and_table_output(clips, tmp_path):
    res = evaluate_videos(clips["noisy"], clips["ref"], metrics=["psnr", "ssim"])
    res["metrics"]["nan_example"] = float("nan")
    out = write_metrics(res, tmp_path / "sub" / "metrics.json")
    loaded = json.loads(out.read_text())
    assert loaded["metrics"]["psnr"] == pytest.approx(res["metrics"]["psnr"])
    assert loaded["metrics"]["nan_example"] is None
    assert [p.name for p in out.parent.iterdir()] == ["metrics.json"]  # no temp file left
    console = Console(record=True, width=160)
    console.print(metrics_table(res))
    text = console.export_text()
    assert "psnr" in text and "ssim" in text and f"{res['metrics']['psnr']:.4f}" in text


def test_real_clip_against_itself(shared_media):
    clip = shared_media / "WDA_KatieHill_000.mp4"
    res = evaluate_videos(clip, clip, metrics=["psnr", "ssim"], max_frames=25)
    assert res["frames_generated"] == res["frames_reference"] == 200 and res["frames"] == 25
    assert res["metrics"]["psnr"] == 100.0 and res["metrics"]["ssim"] == pytest.approx(1.0, abs=1e-12)


def test_network_metrics_are_wired_through(clips, monkeypatch):
    """LPIPS and FID through evaluate_videos, with random-weight networks standing in for the store's."""
    import torch

    from tfk.metrics import fid, lpips

    torch.manual_seed(0)
    net = lpips.LPIPS("alex")
    for lin in net.lins():
        lin.model[1].weight.data.abs_()
    proj = np.random.default_rng(0).normal(size=(16 * 16 * 3, 32))

    def cheap_features(_net, frames, device="cpu"):  # InceptionV3 at 299x299 is too slow for a unit test
        small = np.stack([cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA) for f in frames])
        return small.reshape(len(frames), -1).astype(np.float64) / 255.0 @ proj

    monkeypatch.setattr(lpips, "load_lpips", lambda *a, **k: net)
    monkeypatch.setattr(fid, "load_inception", lambda *a, **k: object())
    monkeypatch.setattr(fid, "inception_features", cheap_features)
    same = evaluate_videos(clips["ref"], clips["ref"], metrics=["lpips", "fid"], batch_size=10)
    noisy = evaluate_videos(clips["noisy"], clips["ref"], metrics=["lpips", "fid"], batch_size=10)
    assert not same["errors"] and not noisy["errors"]
    assert same["metrics"]["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert noisy["metrics"]["lpips"] > 1e-3
    # 20 frames in 32 dimensions: rank-deficient covariances, so "zero" is only approximate
    assert abs(same["metrics"]["fid"]) < 0.05 * noisy["metrics"]["fid"]


def test_lse_uses_the_given_audio(tmp_path, monkeypatch):
    import soundfile as sf
    from metrics_toys import FRAME, ToyNet, toy_clip

    from tfk.metrics import sync

    monkeypatch.setattr(sync, "load_syncnet", lambda *a, **k: ToyNet())
    frames, audio = toy_clip(n=40)
    video = _write(tmp_path / "v.mp4", [cv2.resize(f, (64, 64)) for f in frames])
    sf.write(tmp_path / "a.wav", audio, 16000)
    delayed = np.concatenate([np.zeros(2 * FRAME, np.float32), audio])[: len(audio)]
    sf.write(tmp_path / "late.wav", delayed, 16000)
    res = evaluate_videos(video, video, metrics=["lse"], audio=tmp_path / "a.wav")
    assert res["metrics"]["av_offset"] == 0 and res["metrics"]["lse_c"] > 0.3
    late = evaluate_videos(video, video, metrics=["lse"], audio=tmp_path / "late.wav")
    assert late["metrics"]["av_offset"] == -2
    no_audio = evaluate_videos(video, video, metrics=["lse"])  # the video has no audio track
    assert "lse" in no_audio["errors"] and "audio" in no_audio["errors"]["lse"]
