import numpy as np
import pytest
import torch
from metrics_toys import FRAME, ToyNet, toy_clip

from tfk.errors import BadInput, MissingWeights
from tfk.metrics.sync import (
    VSHIFT,
    SyncNet,
    load_syncnet,
    lse,
    shifted_distances,
    sync_from_features,
    syncnet_shapes,
)


def test_syncnet_key_and_parameter_contract():
    shapes = syncnet_shapes()
    prefixes = {k.split(".")[0] for k in shapes}
    assert prefixes == {"netcnnaud", "netfcaud", "netcnnlip", "netfclip"}
    assert shapes["netcnnaud.0.weight"] == (64, 1, 3, 3)
    assert shapes["netcnnaud.18.weight"] == (512, 256, 5, 4)
    assert shapes["netcnnlip.0.weight"] == (96, 3, 5, 7, 7)
    assert shapes["netcnnlip.1.running_var"] == (96,)
    assert shapes["netcnnlip.18.weight"] == (512, 256, 1, 6, 6)
    assert shapes["netfcaud.1.weight"] == (512,) and shapes["netfclip.3.weight"] == (1024, 512)
    params = sum(
        int(np.prod(s))
        for k, s in shapes.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert params == 13_631_616  # the published syncnet_v2.model


def test_load_syncnet_from_a_state_dict_file(tmp_path):
    net = SyncNet()
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, tmp_path / "syncnet_v2.model")
    loaded = load_syncnet(path=tmp_path / "syncnet_v2.model")
    assert torch.equal(loaded.netfclip[3].weight, net.netfclip[3].weight)


def test_missing_syncnet_weights(monkeypatch):
    monkeypatch.setenv("TFK_OFFLINE", "1")
    with pytest.raises(MissingWeights, match="tfk weights pull shared/syncnet_v2"):
        load_syncnet()


def test_offset_search_on_known_shift():
    rng = np.random.default_rng(0)
    v = torch.tensor(rng.normal(size=(60, 16)), dtype=torch.float32)
    for k in (-4, 0, 3, 7):
        a = torch.roll(v, k, dims=0)  # audio window i+k matches video window i
        res = sync_from_features(v, a)
        assert res.offset == -k
        d = shifted_distances(v, a)
        assert res.lse_d == pytest.approx(float(d[:, VSHIFT + k].mean()))
        assert float(d[20:40, VSHIFT + k].max()) < 1e-4  # exact match away from the padded ends
        assert res.lse_c > 0 and len(res.mean_dists) == 2 * VSHIFT + 1


def test_feature_shape_mismatch():
    with pytest.raises(BadInput):
        sync_from_features(torch.zeros(5, 4), torch.zeros(6, 4))


@pytest.mark.parametrize("k", [0, 3, -2])
def test_pipeline_recovers_audio_delay(k):
    frames, audio = toy_clip()
    if k > 0:  # audio delayed by k frames
        audio = np.concatenate([np.zeros(k * FRAME, np.float32), audio])[: len(audio)]
    elif k < 0:  # audio early by |k| frames
        audio = np.concatenate([audio[-k * FRAME :], np.zeros(-k * FRAME, np.float32)])
    res = lse(iter(frames), audio, net=ToyNet())
    assert res.offset == -k
    assert res.windows == 60 - 5
    assert res.lse_c > 0.3


def test_random_syncnet_runs_on_a_synthetictoy_clip():
    torch.manual_seed(0)
    frames, audio = toy_clip(n=16)
    res = lse(iter(frames), audio, net=SyncNet(), batch_size=4)
    assert np.isfinite([res.lse_c, res.lse_d]).all()
    assert -VSHIFT <= res.offset <= VSHIFT and res.windows == 11


def test_too_short_clip_is_bad_input():
    frames, audio = toy_clip(n=5)
    with pytest.raises(BadInput):
        lse(iter(frames), audio, net=ToyNet())
