"""Training-data preprocessing: LMDB crops + aligned features, per-clip resume, bad clips skipped."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tfk.errors import BadInput


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


def _ctx(tmp_path, fake_require):
    from tfk.plugin import StageContext
    from tfk.workspace import Workspace

    ws = Workspace.for_subject("lawdnet", "s1", root=tmp_path / "ws")
    ctx = StageContext(model="lawdnet", stage="preprocess", home=tmp_path, workspace=ws)
    ctx.require = fake_require  # the store is tested elsewhere
    return ctx


def test_preprocess_a_directory_skips_bad_clips(dataset_dir, tmp_path, fake_require):
    from tfk_lawdnet.preprocess import preprocess
    from tfk_lawdnet.train.data import FrameDataset, TrainData

    ctx = _ctx(tmp_path, fake_require)
    summary = preprocess(ctx, {"input": dataset_dir, "features": "dp2", "resolution": 80})
    assert summary["clips"] == 2 and summary["frames"] == 25 + 25  # the 30 fps clip is re-timed to 25 fps
    assert len(summary["failed"]) == 2
    reasons = " ".join(summary["failed"].values())
    assert "audio" in reasons and "face" in reasons.lower()

    root = ctx.workspace.step_dir("dataset")
    index = json.loads((root / "index.json").read_text())
    assert index["format"] == "tfk-lawdnet-train/1" and index["crop_widths"] == [80]
    names = {v["name"] for v in index["videos"]}
    assert names == {"a_good", "sub__b_30fps"}
    feats = np.load(root / "audio_dp2" / "a_good.npy")
    assert feats.shape == (26, 29)  # 1 s of DP2 features: 25 * dur + 1 rows
    data = TrainData(root)
    img = data.image("sub__b_30fps", 24, (104, 80))
    assert img.shape == (104, 80, 3) and img.std() > 5  # a real face crop, not black
    sample = FrameDataset(data, mouth=64, frontend="dp2")[0]
    assert tuple(sample["source"].shape) == (3, 104, 80)
    assert tuple(sample["refs"].shape) == (15, 104, 80)
    assert tuple(sample["audio"].shape) == (29, 5)


def test_preprocess_resumes_per_clip(dataset_dir, tmp_path, fake_require, monkeypatch):
    from tfk_lawdnet import preprocess as pp

    clips = pp.find_clips(dataset_dir)
    names = pp._clip_names(clips, dataset_dir)
    out = tmp_path / "data"
    weights = {"dp2": fake_require("shared/deepspeech_pytorch_v3")}
    good = [i for i, n in enumerate(names) if n in ("a_good", "sub__b_30fps")]
    # first run dies after the first good clip
    calls: list[str] = []
    real = pp._process_clip

    def dying(src, name, *a, **k):
        calls.append(name)
        if name == names[good[1]]:
            raise KeyboardInterrupt
        return real(src, name, *a, **k)

    monkeypatch.setattr(pp, "_process_clip", dying)
    with pytest.raises(KeyboardInterrupt):
        pp.build_dataset(clips, out, ["dp2"], weights, width=80, names=names)
    assert (out / "clips" / f"{names[good[0]]}.json").is_file()
    assert not (out / "index.json").exists()
    # the second run does only what is left
    calls.clear()
    monkeypatch.setattr(
        pp, "_process_clip", lambda src, name, *a, **k: (calls.append(name), real(src, name, *a, **k))[1]
    )
    index = pp.build_dataset(clips, out, ["dp2"], weights, width=80, names=names)
    assert names[good[0]] not in calls and names[good[1]] in calls
    assert len(index["videos"]) == 2


def test_a_dataset_of_only_bad_clips_is_an_error(tmp_path, fake_require):
    from tfk_lawdnet.preprocess import build_dataset

    from tfk.testing.synth import make_video_only

    v = make_video_only(tmp_path / "v.mp4", seconds=0.5, size=64)
    with pytest.raises(BadInput, match="no usable clip"):
        build_dataset([v], tmp_path / "d", ["dp2"], {"dp2": fake_require("shared/deepspeech_pytorch_v3")}, width=80)
