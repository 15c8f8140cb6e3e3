from __future__ import annotations

import enum
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from tfk.audio import deepspeech_pt as dp
from tfk.errors import BadInput, InvalidArtifact


def _published_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of librispeech_pretrained_v3.ckpt's state_dict (deepspeech.pytorch V3, bidirectional LSTM)."""
    e: dict[str, tuple[int, ...]] = {}

    def bn(prefix, n):
        e.update(
            {
                f"{prefix}.weight": (n,),
                f"{prefix}.bias": (n,),
                f"{prefix}.running_mean": (n,),
                f"{prefix}.running_var": (n,),
                f"{prefix}.num_batches_tracked": (),
            }
        )

    e["conv.seq_module.0.weight"], e["conv.seq_module.0.bias"] = (32, 1, 41, 11), (32,)
    bn("conv.seq_module.1", 32)
    e["conv.seq_module.3.weight"], e["conv.seq_module.3.bias"] = (32, 32, 21, 11), (32,)
    bn("conv.seq_module.4", 32)
    for i in range(5):
        if i:
            bn(f"rnns.{i}.batch_norm.module", 1024)
        d_in = 1312 if i == 0 else 1024
        for sfx in ("", "_reverse"):
            e[f"rnns.{i}.rnn.weight_ih_l0{sfx}"] = (4096, d_in)
            e[f"rnns.{i}.rnn.weight_hh_l0{sfx}"] = (4096, 1024)
            e[f"rnns.{i}.rnn.bias_ih_l0{sfx}"] = (4096,)
            e[f"rnns.{i}.rnn.bias_hh_l0{sfx}"] = (4096,)
    bn("fc.0.module.0", 1024)
    e["fc.0.module.1.weight"] = (29, 1024)
    return e


def test_key_and_shape_compatibility_with_published_checkpoint():
    with torch.device("meta"):
        model = dp.DeepSpeech2()
    sd = model.state_dict()
    expected = _published_layout()
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked")) == 86_628_768  # ~86.6 M
    # a state dict with exactly those keys loads strictly (and a missing key does not)
    rand = {
        k: torch.empty(s, dtype=torch.int64 if k.endswith("tracked") else torch.float32) for k, s in expected.items()
    }
    assert dp.config_from_state_dict(rand) == {
        "n_labels": 29,
        "hidden_size": 1024,
        "hidden_layers": 5,
        "rnn_type": "lstm",
        "bidirectional": True,
    }
    with torch.device("meta"):
        fresh = dp.DeepSpeech2()
    fresh.load_state_dict(rand, strict=True, assign=True)
    del rand["fc.0.module.1.weight"]
    with pytest.raises(RuntimeError):
        fresh.load_state_dict(rand, strict=True, assign=True)


def test_unidirectional_variant_has_lookahead():
    m = dp.DeepSpeech2(hidden_size=16, hidden_layers=2, bidirectional=False, lookahead_context=20).eval()
    sd = m.state_dict()
    assert tuple(sd["lookahead.0.conv.weight"].shape) == (16, 1, 20)
    assert "rnns.0.rnn.weight_ih_l0_reverse" not in sd
    assert dp.config_from_state_dict(sd)["lookahead_context"] == 20
    spec = torch.randn(1, 1, 161, 50)
    out, n = m(spec, torch.tensor([50]))
    assert out.shape == (1, 25, 29) and n.tolist() == [25]


def test_spectrogram_matches_librosa_front_end(speech):
    librosa = pytest.importorskip("librosa")
    d = librosa.stft(speech, n_fft=320, hop_length=160, win_length=320, window="hamming", pad_mode="constant")
    ref = torch.from_numpy(np.log1p(np.abs(d)).astype(np.float32))
    ref = (ref - ref.mean()) / ref.std()
    ours = dp.spectrogram(speech)
    assert ours.shape == ref.shape == (161, 801)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-4)


@pytest.mark.parametrize("seconds,expected", [(1.0, 26), (8.0, 201), (10.0, 251)])
def test_dp2_frame_counts(seconds, expected, make_speech):
    m = dp.DeepSpeech2(hidden_size=8, hidden_layers=2).eval()
    feats = dp.features(m, make_speech(seconds))
    assert feats.shape == (expected, 29) and feats.dtype == np.float32  # 25 * duration + 1


def test_batch_masking_matches_single_utterances(make_speech):
    torch.manual_seed(0)
    m = dp.DeepSpeech2(hidden_size=16, hidden_layers=3).eval()
    for mod in m.modules():  # non-trivial BatchNorm statistics
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    a, b = dp.spectrogram(make_speech(2.0, 1)), dp.spectrogram(make_speech(1.3, 2))
    batch = torch.zeros(2, 1, 161, a.shape[1])
    batch[0, 0], batch[1, 0, :, : b.shape[1]] = a, b
    with torch.no_grad():
        out, lens = m(batch, torch.tensor([a.shape[1], b.shape[1]]))
        ref_b, _ = m(b[None, None], torch.tensor([b.shape[1]]))
    assert lens.tolist() == [101, 66]
    np.testing.assert_allclose(out[1, :66].numpy(), ref_b[0].numpy(), atol=1e-5)


def _fake_lightning_checkpoint(path, state_dict, extra_hparam=None):
    """Save a Lightning-like .ckpt whose hyper-parameters reference classes of packages tfk does not have."""
    saved = {}
    names = ["omegaconf", "omegaconf.dictconfig", "deepspeech_pytorch", "deepspeech_pytorch.enums"]
    for n in names:
        saved[n] = sys.modules.get(n)
        sys.modules[n] = types.ModuleType(n)

    class DictConfig:
        def __init__(self, content):
            self._content = content

    class RNNType(enum.Enum):
        lstm = "lstm"

    DictConfig.__module__, RNNType.__module__ = "omegaconf.dictconfig", "deepspeech_pytorch.enums"
    DictConfig.__qualname__, RNNType.__qualname__ = "DictConfig", "RNNType"
    sys.modules["omegaconf.dictconfig"].DictConfig = DictConfig
    sys.modules["deepspeech_pytorch.enums"].RNNType = RNNType
    try:
        hp = {"model_cfg": DictConfig({"rnn_type": RNNType.lstm, "hidden_size": 16}), "extra": extra_hparam}
        torch.save(
            {"epoch": 4, "state_dict": state_dict, "hyper_parameters": hp, "pytorch-lightning_version": "1.1.0"}, path
        )
    finally:
        for n in names:
            if saved[n] is None:
                del sys.modules[n]
            else:
                sys.modules[n] = saved[n]


def test_safe_load_of_lightning_checkpoint(tmp_path, make_speech):
    torch.manual_seed(1)
    net = dp.DeepSpeech2(hidden_size=16, hidden_layers=2).eval()
    ckpt = tmp_path / "tiny_v3.ckpt"
    _fake_lightning_checkpoint(ckpt, net.state_dict())
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ckpt, map_location="cpu", weights_only=True)  # the plain safe load refuses the metadata
    dp.validate_checkpoint(ckpt)
    loaded = dp.load_model(ckpt)
    wav = make_speech(1.0)
    np.testing.assert_array_equal(dp.logits(loaded, wav), dp.logits(net, wav))


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loader_never_executes_pickled_code(tmp_path):
    net = dp.DeepSpeech2(hidden_size=8, hidden_layers=2)
    evil = _Evil()
    evil.marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.ckpt"
    _fake_lightning_checkpoint(ckpt, net.state_dict(), extra_hparam=evil)
    with pytest.raises(InvalidArtifact, match=r"posix\.system"):  # torch blocks os/posix globals outright
        dp.load_model(ckpt)
    assert not evil.marker.exists()


def test_invalid_checkpoints_raise_invalid_artifact(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InvalidArtifact):
        dp.load_model(junk)
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3)}}, other)
    with pytest.raises(InvalidArtifact):
        dp.load_model(other)


def test_silence_is_rejected():
    with pytest.raises(BadInput):
        dp.spectrogram(np.zeros(16000, np.float32))
