"""The generator's state-dict contract against the published key list (reference notes §2.6) and the loader."""

from __future__ import annotations

import pickle

import pytest
import torch
from tfk_lawdnet.models.checkpoint import load_generator, save_checkpoint, save_generator
from tfk_lawdnet.models.lawdnet import LawDNet

from tfk.errors import InputNotFound, InvalidArtifact

N_PARAMS = 21_082_691


def published_key_shapes() -> dict[str, tuple[int, ...]]:
    """The 128 ``net_g`` entries of the published checkpoint (after stripping ``module.``), written out
    from the reference table, independent of the model code."""
    t: dict[str, tuple[int, ...]] = {}

    def conv(key: str, shape: tuple[int, ...]) -> None:
        t[f"{key}.weight"] = shape
        t[f"{key}.bias"] = (shape[0],)

    for name, cin in (("source_in_conv", 3), ("ref_in_conv", 15)):
        conv(f"{name}.0.conv", (64, cin, 7, 7))
        conv(f"{name}.1.conv", (128, 64, 3, 3))
        conv(f"{name}.2.conv", (256, 128, 3, 3))
    conv("trans_conv.0.conv", (128, 512, 3, 3))
    for i in (1, 2):
        conv(f"trans_conv.{i}.conv", (128, 128, 11, 11))
    for i in (4, 5):
        conv(f"trans_conv.{i}.conv", (128, 128, 7, 7))
    for i in (3, 6, 7, 8, 9, 10):
        conv(f"trans_conv.{i}.conv", (128, 128, 3, 3))
    conv("audio_encoder.0.conv", (128, 29, 5))
    for i in (1, 3):
        for j in (1, 2):
            conv(f"audio_encoder.{i}.conv{j}", (128, 128, 3))
            for s in ("weight", "bias", "running_mean", "running_var"):
                t[f"audio_encoder.{i}.norm{j}.{s}"] = (128,)
            t[f"audio_encoder.{i}.norm{j}.num_batches_tracked"] = ()
    for i in (2, 4, 5):
        conv(f"audio_encoder.{i}.conv", (128, 128, 3))
    for i in (0, 1):
        for j in (0, 1):
            for c in (1, 2):
                conv(f"appearance_conv_list.{i}.{j}.conv{c}", (256, 256, 3, 3))
        conv(f"lawLayer_list.{i}.commn_linear.0", (256, 256))
        conv(f"lawLayer_list.{i}.kpoints_normalized_layer.0", (2560, 256))
        conv(f"lawLayer_list.{i}.similarity_params_layer.0", (5120, 256))
        conv(f"lawLayer_list.{i}.radius_layer.0", (1280, 256))
    conv("out_conv.0.conv", (128, 512, 3, 3))
    conv("out_conv.1.conv", (128, 128, 3, 3))
    conv("out_conv.2.conv1", (128, 128, 3, 3))
    conv("out_conv.2.conv2", (128, 128, 3, 3))
    conv("out_conv.3.conv", (128, 128, 3, 3))
    conv("out_conv.4", (3, 128, 7, 7))
    t["cross_attention.positional_encoding_video"] = (128, 8, 6)
    t["cross_attention.positional_encoding_audio"] = (128, 2)
    conv("cross_attention.query_proj", (256, 2))
    conv("cross_attention.key_proj", (256, 48))
    conv("cross_attention.value_proj", (256, 48))
    conv("cross_attention.final_linear", (256, 256))
    conv("cross_attention.output_reshape.conv1", (64, 128, 3))
    conv("cross_attention.output_reshape.fc", (256, 8192))
    return t


def random_published_state(prefix: str = "module.", seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, shape in published_key_shapes().items():
        if k.endswith("num_batches_tracked"):
            out[prefix + k] = torch.tensor(7, dtype=torch.int64)
        else:
            out[prefix + k] = torch.randn(shape, generator=g) * 0.01
    return out


def original_checkpoint(net_g: dict, epoch: int = 171) -> dict:
    """The original nested training-checkpoint layout (§2.6), with small stand-ins for D and optimizers."""
    d = {"module.conv.weight": torch.randn(1, 256, 1, 1), "module.conv.bias": torch.zeros(1)}
    return {
        "epoch": epoch,
        "state_dict": {"net_g": net_g, "net_dI": d, "net_dV": d},
        "optimizer": {"net_g": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]}},
        "scheduler": {"net_g": {"last_epoch": 170, "lr_lambdas": [None]}},
    }


def test_model_matches_published_key_list():
    table = published_key_shapes()
    assert len(table) == 128
    sd = LawDNet().state_dict()
    assert set(sd) == set(table)
    for k, shape in table.items():
        assert tuple(sd[k].shape) == shape, k
        expect = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
        assert sd[k].dtype == expect, k
    assert sum(p.numel() for p in LawDNet().parameters()) == N_PARAMS


@pytest.mark.parametrize("prefix", ["module.", ""])
def test_original_checkpoint_loads_strictly(tmp_path, prefix):
    sd = random_published_state(prefix)
    path = tmp_path / "checkpoint_epoch_170.pth"
    torch.save(original_checkpoint(sd), path)
    net, meta = load_generator(path, "cpu")
    assert meta["audio_frontend"] == "dp2" and meta["frontend_source"] == "filename"
    assert meta["coarse_grid_size"] == 60 and not net.training
    loaded = net.state_dict()
    for k, v in sd.items():
        assert torch.equal(loaded[k[len(prefix) :]], v), k


def test_bare_state_dict_and_epoch_frontend(tmp_path):
    bare = tmp_path / "net_g.pth"
    torch.save(random_published_state(""), bare)
    _, meta = load_generator(bare)
    assert meta["audio_frontend"] is None and meta["frontend_source"] == "unknown"
    renamed = tmp_path / "lawdnet.pth"  # DP1-era checkpoint identified by its recorded epoch only
    torch.save(original_checkpoint(random_published_state(), epoch=120), renamed)
    assert load_generator(renamed)[1]["audio_frontend"] == "dp1"


def test_tfk_checkpoint_records_frontend_and_grid(tmp_path):
    net = LawDNet(coarse_grid_size=8)
    path = save_generator(net, tmp_path / "g.pt", {"audio_frontend": "dp1", "coarse_grid_size": 8, "mouth": 64}, 3)
    net2, meta = load_generator(path)
    assert (meta["audio_frontend"], meta["frontend_source"], meta["coarse_grid_size"], meta["mouth"]) == (
        "dp1",
        "recorded",
        8,
        64,
    )
    assert net2.lawLayer_list[1].grid_size == 8
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_safetensors_generator(tmp_path):
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in random_published_state("").items()}
    path = tmp_path / "net_g.safetensors"
    save_file(sd, str(path), metadata={"audio_frontend": "dp2"})
    net, meta = load_generator(path)
    assert meta["audio_frontend"] == "dp2"
    assert torch.equal(net.state_dict()["out_conv.4.weight"], sd["out_conv.4.weight"])


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda sd: sd.update({"module.cross_modal_attention.attn.in_proj_weight": torch.zeros(3)}), "cross_modal"),
        (lambda sd: sd.update({"module.adaAT.commn_linear.0.weight": torch.zeros(3)}), "DINet"),
        (lambda sd: [sd.pop(k) for k in list(sd) if k.startswith("module.cross_attention.")], "pre-cross-attention"),
        (lambda sd: sd.pop("module.audio_encoder.1.norm1.running_mean"), "missing"),
        (lambda sd: sd.update({"module.out_conv.4.weight": torch.zeros(3, 128, 5, 5)}), "wrong shape"),
        (lambda sd: sd.update({"extra.weight": torch.zeros(1)}), "mixes keys"),
    ],
)
def test_foreign_checkpoints_refused(tmp_path, mutate, needle):
    sd = random_published_state()
    mutate(sd)
    path = tmp_path / "checkpoint_epoch_170.pth"
    torch.save(original_checkpoint(sd), path)
    with pytest.raises(InvalidArtifact, match=needle):
        load_generator(path)


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_unsafe_or_missing_files(tmp_path):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": {"net_g": _Evil()}}, f)
    with pytest.raises(InvalidArtifact, match=r"evil\.pth is not a PyTorch checkpoint"):
        load_generator(path)
    with pytest.raises(InputNotFound):
        load_generator(tmp_path / "nope.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidArtifact):
        load_generator(tmp_path / "junk.pth")


@pytest.mark.parametrize(
    "name,content,why",
    [
        ("random.pth", bytes(range(7, 250)) * 40, "neither a PyTorch zip archive nor a pickle"),
        ("empty.pth", b"", "empty"),
        ("cut.pth", None, "cut short"),
    ],
)
def test_unloadable_checkpoint_messages_name_the_file_and_say_what_is_wrong(tmp_path, name, content, why):
    """Not torch's "Weights only load failed..." text: the user's file and the problem in words."""
    path = tmp_path / name
    if content is None:
        torch.save({"a": torch.zeros(1000)}, path)
        content = path.read_bytes()[:-200]
    path.write_bytes(content)
    with pytest.raises(InvalidArtifact) as ei:
        load_generator(path)
    msg = ei.value.message
    assert msg.startswith(f"{name} is not a PyTorch checkpoint (") and why in msg
    assert "Weights only" not in msg and "weights_only" not in msg and len(msg) < 160


def test_save_checkpoint_is_atomic(tmp_path):
    path = save_checkpoint({"a": torch.ones(3)}, tmp_path / "ck.pt")
    with pytest.raises(Exception):  # noqa: B017 - any pickling error
        save_checkpoint({"a": lambda: 0}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


def test_frontend_evidence_order_and_conflicts():
    """Record, then name, then stored epoch; a name and an epoch that disagree decide nothing."""
    from tfk_lawdnet.models.checkpoint import frontend_for

    # an explicit record beats a published-looking name
    assert frontend_for("checkpoint_epoch_120.pth", {"audio_frontend": "dp2", "epoch": 121}) == ("dp2", "recorded")
    assert frontend_for("checkpoint_epoch_120.pth", {"epoch": 121}) == ("dp1", "filename")
    assert frontend_for("lawdnet.pth", {"epoch": 171}) == ("dp2", "epoch")
    # a user's own epoch-119 checkpoint (stored epoch 120, the original's e+1) is not the DP1 release
    fe, source = frontend_for("checkpoint_epoch_119.pth", {"epoch": 120})
    assert fe is None and source.startswith("conflict:") and "119" in source and "120" in source
    # a published name with a foreign stored epoch
    fe, source = frontend_for("checkpoint_epoch_170.pth", {"epoch": 42})
    assert fe is None and source.startswith("conflict:")
    assert frontend_for("checkpoint_epoch_33.pth", {"epoch": 34}) == (None, "unknown")


def test_top_level_record_is_honoured(tmp_path):
    path = tmp_path / "checkpoint_epoch_120.pth"  # named like the DP1 release, but says it was DP2-trained
    obj = original_checkpoint(random_published_state(), epoch=121)
    obj["audio_frontend"] = "dp2"
    torch.save(obj, path)
    meta = load_generator(path)[1]
    assert (meta["audio_frontend"], meta["frontend_source"]) == ("dp2", "recorded")
