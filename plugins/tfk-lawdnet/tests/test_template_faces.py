"""A template with two faces: say which one is dubbed and why, and let the user choose (``--face``)."""

from __future__ import annotations

import numpy as np
import pytest

from tfk.errors import UsageError
from tfk.face.backends import Landmarker, register_backend

LEFT = np.array([10, 30, 60, 80], np.float32)  # small face on the left
RIGHT = np.array([120, 10, 200, 90], np.float32)  # larger face on the right


class TwoFaces(Landmarker):
    """Two faces in every frame; 68 points whose 25 alignment points sit on the canonical face in the box."""

    name = "two-faces-test"

    def detect(self, rgb):
        return [RIGHT.copy(), LEFT.copy()]  # largest first, as real backends order them

    def landmarks(self, rgb, box):
        from tfk_lawdnet.crop import LIST68TO25, canonical_points

        canon = canonical_points(100)
        canon = (canon - canon.min(0)) / np.ptp(canon, axis=0)
        pts = np.tile([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], (68, 1)).astype(np.float32)
        pts[list(LIST68TO25)] = box[:2] + canon * (box[2:] - box[:2]) * [0.8, 0.8] + (box[2:] - box[:2]) * 0.1
        return pts


register_backend("two-faces-test", TwoFaces)


@pytest.fixture(scope="module")
def two_face_clip(tmp_path_factory):
    from tfk.media import write_video

    frames = [np.full((96, 224, 3), 40 + 10 * i, np.uint8) for i in range(8)]
    return write_video(tmp_path_factory.mktemp("two") / "two.mp4", frames, fps=25)


def _prepare(clip, tmp_path, face=None):
    from tfk_lawdnet.template import prepare_template

    return prepare_template(clip, mouth=64, landmarks="two-faces-test", smooth=0, cache_root=tmp_path, face=face)


def _dubbed_x(tpl) -> float:
    return float(np.load(tpl.cache_dir / "landmarks.npy")[..., 0].mean())


def test_default_dubs_the_largest_and_says_so(two_face_clip, tmp_path, capfd):
    tpl = _prepare(two_face_clip, tmp_path)
    err = capfd.readouterr().err
    assert "2 faces" in err and "face 1 (rightmost)" in err and "largest" in err and "--face" in err
    assert tpl.face["count"] == 2 and tpl.face["index"] == 1
    assert RIGHT[0] < _dubbed_x(tpl) < RIGHT[2]
    _prepare(two_face_clip, tmp_path)  # from the cache: still said
    assert "2 faces" in capfd.readouterr().err


@pytest.mark.parametrize("face,index", [("left", 0), ("0", 0), ("right", 1), ("1", 1), ("largest", 1)])
def test_face_is_chosen_by_position_or_index(two_face_clip, tmp_path, capfd, face, index):
    tpl = _prepare(two_face_clip, tmp_path, face)
    assert tpl.face["index"] == index and f"--face {face}" in capfd.readouterr().err
    box = LEFT if index == 0 else RIGHT
    assert box[0] < _dubbed_x(tpl) < box[2]  # every frame follows the chosen face


def test_bad_face_choices_are_usage_errors(two_face_clip, tmp_path):
    with pytest.raises(UsageError, match="2 faces"):
        _prepare(two_face_clip, tmp_path, "2")
    with pytest.raises(UsageError, match="--face must be"):
        _prepare(two_face_clip, tmp_path, "middle")
