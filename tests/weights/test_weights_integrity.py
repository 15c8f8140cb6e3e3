"""A download cut short is never pinned: every public artifact can tell a complete file from a short one."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
from pathlib import Path

import pytest

from tfk.errors import ChecksumMismatch, ExitCode, InvalidArtifact
from tfk.weights import catalog, store
from tfk.weights.artifact import Artifact

REPO = Path(__file__).resolve().parents[2]


def _declared_artifacts() -> list[Artifact]:
    """Every artifact declared by the toolboxes and by every plugin in the repository."""
    modules = ["tfk.face.artifacts", "tfk.metrics.artifacts", "tfk.audio.artifacts", "tfk.tdmm.artifacts"]
    modules += [f"{p.parent.name}.artifacts" for p in sorted(REPO.glob("plugins/*/tfk_*/artifacts.py"))]
    arts: list[Artifact] = []
    for name in modules:
        arts += importlib.import_module(name).ARTIFACTS
    for entry in sorted(REPO.glob("plugins/*/tfk_*/plugin.py")):  # declarations made in a plugin's hook
        hook = getattr(importlib.import_module(f"{entry.parent.name}.plugin"), "tfk_artifacts", None)
        if hook is not None:
            arts += [a for a in hook() if a.id not in {b.id for b in arts}]
    return arts


def test_every_declared_public_artifact_detects_a_short_download():
    arts = _declared_artifacts()
    assert len(arts) >= 40 and {"lawdnet", "styleheat", "ernerf"} <= {a.namespace for a in arts}
    gaps = [a.unverifiable for a in arts if a.unverifiable]
    assert gaps == []
    for art in arts:  # every validator named in a declaration resolves to a function
        if art.validator:
            mod, _, func = art.validator.partition(":")
            assert callable(getattr(importlib.import_module(mod), func)), art.validator


def test_the_store_refuses_a_public_artifact_without_hash_size_or_validator(http_server):
    url = http_server.add("/loose.json", b"{}")
    loose = Artifact("demo/loose", "loose.json", sources=(url,))
    with pytest.raises(ValueError, match="no sha256, size or validator"):
        catalog.register_artifacts([loose])
    with pytest.raises(InvalidArtifact) as ei:
        store.pull([loose], progress=False)
    assert ei.value.exit_code == ExitCode.BAD_INPUT
    assert "tfk weights import demo/loose FILE" in ei.value.hint
    assert http_server.hits("/loose.json") == 0  # refused before any download
    assert store.status(loose) == "missing"


def _hubert_config() -> bytes:
    """A HuBERT-large config of the published shape (5110 bytes, like the held-out test's)."""
    cfg = {"model_type": "hubert", "architectures": ["HubertForCTC"], "hidden_size": 1024, "num_hidden_layers": 24}
    cfg["conv_dim"] = [512] * 7
    text = json.dumps(cfg, indent=2)
    return (text[:-2] + ',\n  "pad": "' + "x" * (5110 - len(text) - 13) + '"\n}').encode()


def test_short_body_without_content_length_never_becomes_verified(http_server):
    """The HuBERT config (no published hash): 3066 of 5110 bytes, then the server closes; no Content-Length."""
    data = _hubert_config()
    assert len(data) == 5110 and json.loads(data)["model_type"] == "hubert"
    declared = {a.id: a for a in _declared_artifacts()}["shared/hubert_large_ls960_ft_config"]
    assert declared.sha256 is None  # the case of the issue: only the validator can tell
    url = http_server.add("/config.json", data)
    art = dataclasses.replace(declared, sources=(url,))
    catalog.register_artifacts([art])
    http_server.fault("/config.json", drop_after=3066, no_length=True, times=None)
    with pytest.raises(ChecksumMismatch) as ei:
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.BAD_INPUT and "not a complete JSON file" in ei.value.message
    assert store.status(art) == "missing" and store.find(art.id) is None
    assert store.Store().entry(art.id) is None  # no hash was recorded

    http_server.clear_faults()  # the whole body, still without Content-Length
    http_server.fault("/config.json", no_length=True, times=None)
    assert store.pull([art.id], progress=False) == {art.id: "downloaded"}
    assert store.status(art) == "verified" and store.find(art.id).read_bytes() == data


def test_size_only_artifact_knows_a_body_without_content_length_is_short(http_server, register):
    """With only the exact size declared, a short body is resumed (Range) until complete, never pinned short."""
    data = bytes(range(256)) * 40
    url = http_server.add("/w.bin", data)
    (art,) = register(Artifact("demo/sized", "w.bin", size=len(data), sources=(url,)))
    http_server.fault("/w.bin", drop_after=4000, no_length=True, times=2)
    assert store.pull([art.id], progress=False) == {art.id: "downloaded"}
    assert http_server.hits("/w.bin") == 3
    assert store.find(art.id).read_bytes() == data and store.status(art) == "verified"
    assert store.Store().entry(art.id)["sha256"] == hashlib.sha256(data).hexdigest()


VALIDATED_HELPERS = {
    "exp_info.npy": "tfk.tdmm.validators:validate_exp_info",
    "similarity_Lm3D_all.mat": "tfk.tdmm.validators:validate_similarity_lm3d",
    "BFM_exp_idx.mat": "tfk.tdmm.validators:validate_bfm_exp_idx",
    "BFM_front_idx.mat": "tfk.tdmm.validators:validate_bfm_front_idx",
    "facemodel_info.mat": "tfk.tdmm.validators:validate_facemodel_info",
    "std_exp.txt": "tfk.tdmm.validators:validate_std_exp",
}


@pytest.fixture(scope="module")
def helper_files(tmp_path_factory) -> dict[str, Path]:
    from tfk.tdmm.synthetic import make_synthetic_bfm

    return make_synthetic_bfm(tmp_path_factory.mktemp("bfm"), grid=12)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VALIDATED_HELPERS))
def test_3dmm_helper_validators_accept_the_file_and_refuse_it_cut_short(tmp_path, helper_files, name):
    files = helper_files
    mod, _, func = VALIDATED_HELPERS[name].partition(":")
    validate = getattr(importlib.import_module(mod), func)
    src = files[name]
    validate(src)
    data = src.read_bytes()
    short = tmp_path / name
    short.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InvalidArtifact):
        validate(short)


def test_state_dict_and_graph_validators_refuse_a_cut_short_file(tmp_path):
    import torch

    from tfk.audio.validators import validate_deepspeech_graph, validate_hf_weights
    from tfk.face.validators import validate_s3fd
    from tfk.weights.checks import complete_checkpoint

    sd = {"conv1_1.weight": torch.zeros(64, 3, 3, 3), "conv3_3_norm_mbox_conf.weight": torch.zeros(4, 256, 3, 3)}
    sd.update({f"x{i}": torch.zeros(8) for i in range(20)})
    full = tmp_path / "s3fd.pth"
    torch.save(sd, full)
    validate_s3fd(full)
    validate_hf_weights(full)
    for cut in (len(full.read_bytes()) // 2, len(full.read_bytes()) - 10):
        short = tmp_path / f"short{cut}.pth"
        short.write_bytes(full.read_bytes()[:cut])
        with pytest.raises(InvalidArtifact):
            validate_s3fd(short)
        with pytest.raises(InvalidArtifact):
            validate_hf_weights(short)
        with pytest.raises(InvalidArtifact):
            complete_checkpoint(short)
    complete_checkpoint(full)

    def field(num: int, payload: bytes) -> bytes:  # a length-delimited protobuf field (short payloads)
        return bytes([num << 3 | 2, len(payload)]) + payload

    graph = field(1, b"\n\ninput_node") + field(1, b"\n\x06h6" + b"\x00" * 90) + field(1, b"\n\x06logits")
    (tmp_path / "g.pb").write_bytes(graph)
    validate_deepspeech_graph(tmp_path / "g.pb")
    (tmp_path / "short.pb").write_bytes(graph[:-3])
    with pytest.raises(InvalidArtifact, match="cut short"):
        validate_deepspeech_graph(tmp_path / "short.pb")


def test_import_errors_name_the_users_file_not_the_temporary_one(tmp_path, register):
    (art,) = register(
        Artifact("demo/cfg", "config.json", manual=True, validator="tfk.audio.validators:validate_hubert_config")
    )
    mine = tmp_path / "my-config.json"
    mine.write_bytes(b'{"model_type": "hub')
    with pytest.raises(InvalidArtifact) as ei:
        store.import_file(art.id, mine)
    assert "my-config.json is not a complete JSON file" in ei.value.message
    assert ".part" not in ei.value.message and "~" not in ei.value.message
