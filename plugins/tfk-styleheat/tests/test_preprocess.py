"""Training data: both lmdb layouts with the exact key schema, person-id split, resume after interruption."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from tfk.testing.synth import make_talking_clip

    d = tmp_path_factory.mktemp("clips")
    make_talking_clip(d / "id001#yt1#utt#001.mp4", seconds=0.24, size=160)
    make_talking_clip(d / "id002#yt2#utt#001.mp4", seconds=0.2, size=160)
    return d


@pytest.fixture(scope="module")
def extractor(fake_require):
    from tfk_styleheat.inputs import SemanticsExtractor

    return SemanticsExtractor(fake_require)


def test_lmdb_layouts(clips, tmp_path, extractor, fake_require):
    import cv2
    import lmdb
    from tfk_styleheat.preprocess import key, preprocess, read_video

    out = preprocess(clips, tmp_path, require=fake_require, extractor=extractor, test_fraction=0.5)
    assert out["vox"] == tmp_path / "vox" / "256" and out["hdtf"] == tmp_path / "hdtf" / "512"
    assert (tmp_path / "vox" / "train_list.txt").read_text() == "id001#yt1#utt#001\n"
    assert (tmp_path / "vox" / "test_list.txt").read_text() == "id002#yt2#utt#001\n"
    env = lmdb.open(str(out["vox"]), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"length") == b"0000002"
        assert txn.get(b"id001#yt1#utt#001-length") == b"0000006"
        img = cv2.imdecode(np.frombuffer(txn.get(b"id001#yt1#utt#001-0000005"), np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (256, 256, 3)
        assert txn.get(key("id001#yt1#utt#001", "align", 0)) is None
    v = read_video(env, "id001#yt1#utt#001")
    assert v["coeff_3dmm"].shape == (6, 260) and v["keypoint"].shape == (6, 68, 2)
    assert np.isfinite(v["coeff_3dmm"]).all() and (v["coeff_3dmm"][:, 257] > 0).all()  # crop scale s
    env.close()
    env = lmdb.open(str(out["hdtf"]), readonly=True, lock=False)
    with env.begin() as txn:
        a = cv2.imdecode(np.frombuffer(txn.get(key("id002#yt2#utt#001", "align", 4)), np.uint8), cv2.IMREAD_COLOR)
        assert a.shape == (512, 512, 3) and txn.get(key("id002#yt2#utt#001", 5)) is None
    kp = read_video(env, "id002#yt2#utt#001")["keypoint"]
    assert kp.max() < 300  # 256-px scale even in the 512 layout
    env.close()


def test_resume_skips_finished_videos(clips, tmp_path, extractor, fake_require):
    from tfk_styleheat.preprocess import preprocess

    preprocess(clips, tmp_path, layouts=("vox",), require=fake_require, extractor=extractor)

    class Boom:
        def coeffs(self, *a):
            raise AssertionError("a finished video was processed again")

    preprocess(clips, tmp_path, layouts=("vox",), require=fake_require, extractor=Boom())


def test_empty_directory_is_a_clear_error(tmp_path, fake_require):
    from tfk_styleheat.preprocess import preprocess

    from tfk.errors import BadInput

    with pytest.raises(BadInput, match=r"no \*\.mp4"):
        preprocess(tmp_path, tmp_path / "out", require=fake_require, extractor=object())
