"""The HuBERT front-end end to end: a subject with ``aud_hu.npy`` trains, and inference extracts HuBERT
features through :mod:`tfk.nerfprep.features` (a tiny random ``HubertModel`` stands in for hubert-large)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tfk.media import probe, write_wav
from tfk.testing.speech_models import tiny_speech_config
from tfk.testing.synth import synthetic_speech

pytestmark = pytest.mark.slow
WIDTH = 16  # hidden size of the stand-in (hubert-large: 1024)


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory, save_hf_snapshot) -> dict[str, Path]:
    tr = pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("hubert")
    cfg = tiny_speech_config("hubert", hidden_size=WIDTH)
    import torch

    torch.manual_seed(0)
    save_hf_snapshot(tr.HubertModel(cfg), d)
    (d / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    return {
        "shared/hubert_large_ls960_ft_config": d / "config.json",
        "shared/hubert_large_ls960_ft_preprocessor": d / "preprocessor_config.json",
        "shared/hubert_large_ls960_ft_weights": d / "pytorch_model.bin",
    }


def test_hubert_subject_trains_and_infers(tiny_hubert, tmp_path):
    from tfk_ernerf.infer import infer
    from tfk_ernerf.synthetic import make_subject
    from tfk_ernerf.train.config import preset
    from tfk_ernerf.train.trainer import run_stage

    ws = make_subject(tmp_path / "ws", n_frames=12, size=32)
    (ws / "aud.npy").unlink()
    np.save(ws / "aud_hu.npy", np.random.default_rng(0).normal(size=(12, 2, WIDTH)).astype(np.float32))
    res = run_stage(ws, ws / "train", "head", preset("tiny", iters_head=3))
    assert res.global_step == 3
    wav = tmp_path / "s.wav"
    write_wav(wav, synthetic_speech(0.8, 16000, seed=2), 16000)
    from tfk import audio as taudio
    from tfk.nerfprep.features import extract, resolve

    feats = extract("hubert", taudio.load(wav), resolve("hubert", find=tiny_hubert.get))
    assert feats.shape == (19, 2, WIDTH)  # ER-NeRF layout: (12800 - 80) // 320 = 39 steps -> 38 -> 19 pairs
    out = infer(ws, "hu", wav, tmp_path / "hu.mp4", merge="none", find=tiny_hubert.get)
    assert probe(out).n_frames == 20  # 25 x 0.8 s: the last window is repeated
