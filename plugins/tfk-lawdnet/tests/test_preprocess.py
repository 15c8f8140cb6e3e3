"""``tfk preprocess lawdnet``: four resumable steps, LMDB crops + aligned features, bad clips skipped."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tfk.errors import BadInput, Interrupted


@pytest.fixture
def dataset_dir(short_template, tmp_path):
    """Two good clips (one at 30 fps), one clip without a face, one without audio."""
    from tfk.media import VideoWriter, normalize_video
    from tfk.testing.synth import make_video_only

    d = tmp_path / "clips"
    (d / "sub").mkdir(parents=True)
    shutil.copy(short_template, d / "a_good.mp4")
    normalize_video(short_template, d / "sub" / "b_30fps.mp4", fps=30)
    rng = np.random.default_rng(0)
    with VideoWriter(d / "c_noface.mp4", fps=25, audio=rng.standard_normal(16000).astype(np.float32) * 0.1) as w:
        for _ in range(25):
            w.write(rng.integers(0, 50, (96, 96, 3), dtype=np.uint8))
    make_video_only(d / "d_silent.mp4", seconds=0.5, size=96)
    (d / "notes.txt").write_text("not a video")
    return d


def _run(src, tmp_path, fake_require, **options):
    from tfk_lawdnet import artifacts as arts

    from tfk.runner import run_stage

    return run_stage(
        "lawdnet",
        "preprocess",
        {"input": src, "features": "dp2", "resolution": 80, **options},
        uid="s1",
        workspace=tmp_path / "ws",
        device="cpu",
        weights={arts.DP2_CHECKPOINT: fake_require(arts.DP2_CHECKPOINT)},
    )


@pytest.mark.slow
def test_preprocess_a_directory_skips_bad_clips(dataset_dir, tmp_path, fake_require, tfk_cli):
    from tfk_lawdnet.train.data import FrameDataset, TrainData

    summary = _run(dataset_dir, tmp_path, fake_require)
    assert summary["clips"] == 2 and summary["frames"] == 25 + 25  # the 30 fps clip is re-timed to 25 fps
    assert len(summary["failed"]) == 2
    reasons = " ".join(summary["failed"].values())
    assert "audio" in reasons and "face" in reasons.lower()

    root = tmp_path / "ws" / "steps" / "dataset"
    index = json.loads((root / "index.json").read_text())
    assert index["format"] == "tfk-lawdnet-train/1" and index["crop_widths"] == [80]
    names = {v["name"] for v in index["videos"]}
    assert names == {"a_good", "sub__b_30fps"}
    feats = np.load(tmp_path / "ws" / "steps" / "features" / "audio_dp2" / "a_good.npy")
    assert feats.shape == (26, 29)  # 1 s of DP2 features: 25 * dur + 1 rows
    data = TrainData(root)
    img = data.image("sub__b_30fps", 24, (104, 80))
    assert img.shape == (104, 80, 3) and img.std() > 5  # a real face crop, not black
    sample = FrameDataset(data, mouth=64, frontend="dp2")[0]
    assert tuple(sample["source"].shape) == (3, 104, 80)
    assert tuple(sample["refs"].shape) == (15, 104, 80)
    assert tuple(sample["audio"].shape) == (29, 5)

    # `tfk status` shows the four named steps, all done
    res = tfk_cli("status", "lawdnet", "--uid", "s1", "--workspace", str(tmp_path / "ws"), "--json")
    assert res.exit_code == 0, res.stderr
    steps = json.loads(res.stdout)["steps"]
    assert [(s["step"], s["state"]) for s in steps] == [
        ("normalize", "done"),
        ("landmarks", "done"),
        ("features", "done"),
        ("dataset", "done"),
    ]


@pytest.mark.slow
def test_preprocess_resumes_per_clip_and_an_unreadable_record_means_not_done(
    dataset_dir, tmp_path, fake_require, monkeypatch
):
    import tfk.face.tracking as tracking

    real = tracking.track_landmarks
    calls: list[str] = []

    def dying(video, *a, **k):
        calls.append(video.stem)
        if video.stem == "sub__b_30fps":
            raise KeyboardInterrupt  # Ctrl-C while the second clip is tracked
        return real(video, *a, **k)

    monkeypatch.setattr(tracking, "track_landmarks", dying)
    with pytest.raises(Interrupted):
        _run(dataset_dir, tmp_path, fake_require)
    partial = tmp_path / "ws" / "steps" / "landmarks.partial"
    assert json.loads((partial / "clips" / "a_good.json").read_text())["status"] == "ok"
    assert not (partial / "clips" / "sub__b_30fps.json").exists()
    assert calls == ["a_good", "c_noface", "sub__b_30fps"]  # d_silent (no audio) failed upstream

    # a record cut short by a kill is "not done": that clip is redone, nothing crashes
    (partial / "clips" / "a_good.json").write_text('{"stat')
    calls.clear()
    monkeypatch.setattr(
        tracking, "track_landmarks", lambda video, *a, **k: (calls.append(video.stem), real(video, *a, **k))[1]
    )
    summary = _run(dataset_dir, tmp_path, fake_require)
    assert sorted(calls) == ["a_good", "sub__b_30fps"]
    assert summary["clips"] == 2
    # a third run does nothing
    calls.clear()
    assert _run(dataset_dir, tmp_path, fake_require)["clips"] == 2 and calls == []


def test_record_reader_treats_garbage_as_missing(tmp_path):
    from tfk_lawdnet.preprocess import read_record

    p = tmp_path / "r.json"
    assert read_record(p) is None
    for text in ("", "{", "[]", '{"status": "maybe"}', "\x00\x01"):
        p.write_text(text)
        assert read_record(p) is None
    p.write_text('{"status": "ok", "n_frames": 3}')
    assert read_record(p) == {"status": "ok", "n_frames": 3}


def test_a_dataset_of_only_bad_clips_is_an_error(tmp_path, fake_require):
    from tfk.testing.synth import make_video_only

    v = make_video_only(tmp_path / "v.mp4", seconds=0.5, size=64)
    with pytest.raises(BadInput, match="no usable clip"):
        _run(v, tmp_path, fake_require)


def test_odd_or_small_resolution_is_a_usage_error(tfk_cli, short_template, tmp_path):
    for bad in ("81", "32"):
        res = tfk_cli("preprocess", "lawdnet", str(short_template), "--uid", "s", "--resolution", bad)
        assert res.exit_code == 2 and "--resolution" in res.stderr
