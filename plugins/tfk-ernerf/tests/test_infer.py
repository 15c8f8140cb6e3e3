"""Inference: frame count = feature rows (25 x audio seconds), H.264 + AAC in sync, ping-pong, paste-back."""

from __future__ import annotations

import numpy as np
import pytest
from tfk_ernerf.infer import infer, mirror_index, parse_rgb

from tfk.errors import InputNotFound, UsageError
from tfk.media import iter_frames, probe, write_wav
from tfk.testing.synth import synthetic_speech

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    p = tmp_path_factory.mktemp("aud") / "speech.wav"
    write_wav(p, synthetic_speech(1.2, 16000, seed=3), 16000)
    return p


def test_mirror_index_is_ping_pong():
    assert [mirror_index(i, 3) for i in range(8)] == [0, 1, 2, 2, 1, 0, 0, 1]


def test_parse_background():
    assert parse_rgb("0,255,0") == (0, 255, 0)
    assert parse_rgb("(10, 20, 30)") == (10, 20, 30)
    with pytest.raises(UsageError):
        parse_rgb("red")


def test_infer_writes_synced_h264_aac_pasted_into_full_frames(subject_ws, speech, fake_find, tmp_path):
    out = infer(subject_ws, "alice", speech, tmp_path / "out.mp4", merge="bbox", find=fake_find)
    info = probe(out)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert (info.width, info.height) == (64, 48)  # the original full-resolution frame
    assert info.n_frames == 30  # 25 x 1.2 s
    assert abs(info.video_duration - info.audio_duration) < 1 / 25
    first = next(iter_frames(out))
    assert abs(int(first[2, 2, 0]) - 200) < 12  # outside the head box: the original frame
    assert abs(int(first[24, 32, 0]) - 200) > 30  # inside: the render


def test_infer_background_alpha_and_face_merge(subject_ws, speech, fake_find, tmp_path):
    out = infer(
        subject_ws,
        "alice",
        speech,
        tmp_path / "green.mp4",
        merge="face",
        background="0,255,0",
        alpha=True,
        find=fake_find,
    )
    first = next(iter_frames(out))
    assert first[2, 2, 1] > 200 and first[2, 2, 0] < 40  # matted background replaced by green
    alpha = tmp_path / "green.alpha.mp4"
    assert probe(alpha).n_frames == probe(out).n_frames == 30
    a = next(iter_frames(alpha))
    assert a[2, 2, 0] < 20 and a[44, 30, 0] > 230  # background 0, body (matte) 1


def test_crop_output_without_paste(subject_ws, speech, fake_find, tmp_path):
    out = infer(subject_ws, "alice", speech, tmp_path / "crop.mp4", merge="none", find=fake_find)
    assert (probe(out).width, probe(out).height) == (32, 32)
    assert np.asarray(next(iter_frames(out))).std() > 1


def test_missing_model_names_the_train_command(tmp_path, speech):
    with pytest.raises(InputNotFound) as e:
        infer(tmp_path, "bob", speech, tmp_path / "x.mp4")
    assert "tfk train ernerf --uid bob" in e.value.hint
