from __future__ import annotations

import numpy as np
import pytest

from tfk.audio.align import ernerf_hubert_layout, unfold_windows
from tfk.audio.hubert import hidden_states, load_model
from tfk.errors import InputNotFound


@pytest.fixture(scope="module")
def tiny_hubert_dir(tmp_path_factory):
    tr = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    cfg = tr.HubertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(8, 8, 8, 8, 8, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    d = tmp_path_factory.mktemp("hubert")
    tr.HubertModel(cfg).eval().save_pretrained(str(d))
    (d / "preprocessor_config.json").write_text('{"do_normalize": true, "sampling_rate": 16000}')
    return d


def test_hubert_layouts_for_8s(tiny_hubert_dir, speech8):
    model = load_model(tiny_hubert_dir)
    h = hidden_states(model, speech8, clip=320 * 100)  # 2 s clips: exercises the clip stitching
    assert h.shape == ((128000 - 80) // 320, 32) == (399, 32)  # 50 steps/s
    assert np.isfinite(h).all()
    assert ernerf_hubert_layout(h).shape == (199, 2, 32)  # ER-NeRF aud_hu.npy [T/2, 2, C]
    assert unfold_windows(h).shape == (200, 16, 32)  # Avatar-ERNeRF [M/2+1, 16, C]


def test_first_clip_equals_a_direct_run(tiny_hubert_dir, speech8):
    import torch

    model = load_model(tiny_hubert_dir)
    h = hidden_states(model, speech8, clip=320 * 100)
    x = speech8.astype(np.float64)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    seg = torch.from_numpy(x[: 320 * 100 - 320 + 400].astype(np.float32))[None]
    with torch.no_grad():
        ref = model(seg).last_hidden_state[0].numpy()
    assert ref.shape[0] == 100
    np.testing.assert_allclose(h[:100], ref, atol=1e-5)


def test_missing_model_dir(tmp_path):
    with pytest.raises(InputNotFound):
        load_model(tmp_path)
