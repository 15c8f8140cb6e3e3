"""Inference: any audio -> playable MP4 with 25 frames per second of audio, A/V in sync, seeded, resumable."""

from __future__ import annotations

import pytest
import torch

from tfk.errors import BadInput


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A synthetic subject and a random-init checkpoint in the original layout."""
    from tfk_dfrf.models.dfrf import DFRF, checkpoint_dict, save_checkpoint
    from tfk_dfrf.testing_scene import write_synthetic_subject

    root = tmp_path_factory.mktemp("infer")
    subject = write_synthetic_subject(root / "bob", n_frames=12, size=16)
    torch.manual_seed(0)
    ckpt = save_checkpoint(checkpoint_dict(DFRF(), 5), root / "000006_head.tar")
    return subject, ckpt, root


def _probe(path):
    from tfk.media import probe

    return probe(path)


def test_infer_writes_a_synced_mp4_with_25_frames_per_second(fitted, tmp_path):
    from tfk_dfrf.features import standin_deepspeech
    from tfk_dfrf.infer import infer

    from tfk.testing.synth import make_audio_file

    subject, ckpt, _ = fitted
    audio = make_audio_file(tmp_path / "speech.m4a", seconds=0.6, fmt="m4a")
    out = infer(
        subject,
        ckpt,
        audio,
        tmp_path / "out.mp4",
        quality="fast",
        references="0,2,4,5",
        feature_fn=standin_deepspeech,
        chunk=50,
    )
    info = _probe(out)
    assert info.n_frames == 15  # ceil((round(50 * 0.6) - 1) / 2)
    assert info.has_audio and abs(info.audio_duration - info.video_duration) <= 1 / 25
    assert (info.width, info.height) == (16, 16)
    assert not (tmp_path / ".out.mp4.dfrf-frames").exists()


def test_render_is_reproducible_with_a_seed(fitted):
    import numpy as np
    from tfk_dfrf.data import Subject
    from tfk_dfrf.infer import render_frames
    from tfk_dfrf.models.dfrf import load_dfrf

    subject, ckpt, _ = fitted
    s = Subject(subject)
    model, ck = load_dfrf(ckpt)
    feats = s.aud[:3]

    def frames(seed, noise=True):
        return [f for _, f in render_frames(s, model, ck, feats, "fast", "0,1,2,3", seed=seed, noise=noise)]

    a, b = frames(3), frames(3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len(a) == 3 and a[0].shape == (16, 16, 3) and a[0].dtype == np.uint8


def test_interrupted_inference_resumes(fitted, tmp_path):
    from tfk_dfrf.features import standin_deepspeech
    from tfk_dfrf.infer import infer

    from tfk.testing.synth import make_audio_file

    subject, ckpt, _ = fitted
    audio = make_audio_file(tmp_path / "a.wav", seconds=0.4)

    class Stop:
        n = 0

        def advance(self, k=1):
            self.n += k
            if self.n == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        infer(
            subject,
            ckpt,
            audio,
            tmp_path / "o.mp4",
            quality="fast",
            references="0,1,2,3",
            feature_fn=standin_deepspeech,
            progress=Stop(),
        )
    assert not (tmp_path / "o.mp4").exists()
    assert len(list((tmp_path / ".o.mp4.dfrf-frames").glob("*.png"))) == 3
    counter = Stop()
    counter.n = 100
    infer(
        subject,
        ckpt,
        audio,
        tmp_path / "o.mp4",
        quality="fast",
        references="0,1,2,3",
        feature_fn=standin_deepspeech,
        progress=counter,
    )
    assert counter.n - 100 == 10 - 3  # only the missing frames were rendered
    assert _probe(tmp_path / "o.mp4").n_frames == 10


def test_short_clip_needs_explicit_references(fitted, tmp_path):
    from tfk_dfrf.infer import infer

    subject, ckpt, _ = fitted
    with pytest.raises(BadInput, match="need at least 201"):
        infer(subject, ckpt, tmp_path / "x.wav", tmp_path / "o.mp4")
    with pytest.raises(BadInput, match="four training-frame numbers"):
        infer(subject, ckpt, tmp_path / "x.wav", tmp_path / "o.mp4", references="0,1,99,2")
