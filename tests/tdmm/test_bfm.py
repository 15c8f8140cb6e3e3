"""BFM validator, conversions (AD-NeRF sub-mesh, Deep3D front model), safe loading, store integration."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from tfk.errors import InvalidArtifact, MissingWeights
from tfk.tdmm import bfm
from tfk.tdmm.bfm import check_bfm_structure, derive_bfm, load_npy_dict, read_exp_pca, validate_bfm


def test_validator_accepts_a_structurally_correct_file(synthetic_bfm):
    info = check_bfm_structure(synthetic_bfm["01_MorphableModel.mat"], n_vertices=None)
    assert info["shapePC"][1] == 199 and info["shapeMU"][1] == 1


def test_validator_rejects_wrong_files(synthetic_bfm, tmp_path):
    src = loadmat(synthetic_bfm["01_MorphableModel.mat"])
    good = {k: src[k] for k in bfm.REQUIRED_BFM_KEYS}
    # real BFM must have 53,490 vertices: the small synthetic one is refused by the import validator
    with pytest.raises(InvalidArtifact, match="53490"):
        validate_bfm(synthetic_bfm["01_MorphableModel.mat"])
    cases = {
        "missing": {k: v for k, v in good.items() if k != "texEV"},
        "shape": {**good, "shapePC": good["shapePC"][:-3]},
        "ev": {**good, "shapeEV": good["shapeEV"][:50]},
    }
    for name, doc in cases.items():
        savemat(tmp_path / f"{name}.mat", doc)
        with pytest.raises(InvalidArtifact):
            check_bfm_structure(tmp_path / f"{name}.mat", n_vertices=None)
    (tmp_path / "junk.mat").write_bytes(os.urandom(4096))
    with pytest.raises(InvalidArtifact, match="not a MATLAB"):
        check_bfm_structure(tmp_path / "junk.mat", n_vertices=None)


def test_adnerf_conversion(synthetic_bfm):
    d = np.load(synthetic_bfm["adnerf_3dmm.npz"])
    topo = load_npy_dict(synthetic_bfm["topology_info.npy"])
    src = loadmat(synthetic_bfm["01_MorphableModel.mat"])
    sub = topo["sub_inds"]
    n3 = 3 * sub.size
    assert d["mu_shape"].shape == (n3,) and d["b_shape"].shape == (199, n3) and d["b_exp"].shape == (79, n3)
    # xyz interleaved restriction to the sub-mesh, bases transposed to [K, 3n]
    v = 5
    assert np.allclose(d["mu_shape"][3 * v : 3 * v + 3], src["shapeMU"][3 * sub[v] : 3 * sub[v] + 3, 0])
    assert np.allclose(d["b_shape"][:, 3 * v + 1], src["shapePC"][3 * sub[v] + 1])
    assert d["keyinds"].shape == (68,) and d["left_contour"].shape[0] == 8


def test_deep3d_front_conversion(synthetic_bfm):
    m = loadmat(synthetic_bfm["BFM_model_front.mat"])
    front = loadmat(synthetic_bfm["BFM_front_idx.mat"])["idx"].reshape(-1).astype(int) - 1
    trim = loadmat(synthetic_bfm["BFM_exp_idx.mat"])["trimIndex"].reshape(-1).astype(int) - 1
    n = front.size
    assert m["meanshape"].shape == (1, 3 * n) and m["idBase"].shape == (3 * n, 80)
    assert m["exBase"].shape == (3 * n, 64) and m["texBase"].shape == (3 * n, 80)
    src = loadmat(synthetic_bfm["01_MorphableModel.mat"])
    v = trim[front[3]]
    assert np.allclose(m["meanshape"][0, 9:12], src["shapeMU"][3 * v : 3 * v + 3, 0] / 1e5, rtol=1e-5)
    expect = src["shapePC"][3 * v, :80] * src["shapeEV"][:80, 0] / 1e5
    assert np.allclose(m["idBase"][9], expect, rtol=1e-4, atol=1e-9)
    _, basis = read_exp_pca(synthetic_bfm["Exp_Pca.bin"])
    std = np.loadtxt(synthetic_bfm["std_exp.txt"])
    assert np.allclose(m["exBase"][9], (basis[3 * front[3]] * std)[:64] / 1e5, rtol=1e-4, atol=1e-9)
    assert {"tri", "point_buf", "keypoints", "tri_mask2", "frontmask2_idx", "skinmask"} <= set(m)


def test_derive_without_exp_pca_builds_only_the_adnerf_model(synthetic_bfm, tmp_path, monkeypatch):
    monkeypatch.setenv("TFK_HOME", str(tmp_path / "home"))
    helpers = {k: v for k, v in synthetic_bfm.items() if k != "Exp_Pca.bin"}
    out = derive_bfm(synthetic_bfm["01_MorphableModel.mat"], tmp_path / "d", helpers=helpers)
    assert set(out) == {"adnerf_3dmm.npz"}


def test_missing_helper_names_the_pull_command(synthetic_bfm, tmp_path, monkeypatch):
    monkeypatch.setenv("TFK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFK_OFFLINE", "1")
    helpers = {k: v for k, v in synthetic_bfm.items() if k != "keys_info.npy"}
    with pytest.raises(MissingWeights) as ei:
        derive_bfm(synthetic_bfm["01_MorphableModel.mat"], tmp_path / "d", helpers=helpers)
    assert ei.value.hint == "tfk weights pull shared/adnerf_keys_info"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_helpers_are_loaded_without_running_code(tmp_path):
    np.save(tmp_path / "ok.npy", np.array({"a": np.arange(3)}, dtype=object), allow_pickle=True)
    assert load_npy_dict(tmp_path / "ok.npy")["a"].tolist() == [0, 1, 2]
    np.save(tmp_path / "evil.npy", np.array({"a": _Evil()}, dtype=object), allow_pickle=True)
    with pytest.raises(InvalidArtifact, match="refusing"):
        load_npy_dict(tmp_path / "evil.npy")
    with open(tmp_path / "plain.npy", "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(InvalidArtifact):
        load_npy_dict(tmp_path / "plain.npy")
    assert pickle  # (module used by _Evil's pickling)


def test_store_import_derives_every_form_and_commands_fail_with_the_import_command(
    synthetic_bfm, tmp_path, monkeypatch
):
    import dataclasses

    import tfk.weights as weights
    from tfk.tdmm.model import FaceModel
    from tfk.weights import catalog

    real_get = catalog.get
    # the synthetic helper files have other sizes than the published ones
    monkeypatch.setattr(catalog, "get", lambda aid, arts=None: dataclasses.replace(real_get(aid, arts), size=None))
    monkeypatch.setenv("TFK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFK_OFFLINE", "1")
    with pytest.raises(MissingWeights) as ei:
        bfm.adnerf_model_path()
    assert ei.value.hint == "tfk weights import shared/bfm2009 /path/to/01_MorphableModel.mat"
    for name, aid in bfm.HELPER_IDS.items():
        weights.import_file(aid, synthetic_bfm[name])
    n = len(loadmat(synthetic_bfm["01_MorphableModel.mat"])["shapeMU"]) // 3
    monkeypatch.setattr(bfm, "BFM_VERTICES", n)  # the synthetic model stands in for the real one
    weights.import_file("shared/bfm2009", synthetic_bfm["01_MorphableModel.mat"])
    model = FaceModel.load(bfm.adnerf_model_path())
    assert model.n_vertices == np.load(synthetic_bfm["adnerf_3dmm.npz"])["mu_shape"].size // 3
    assert bfm.deep3d_model_path().name == "BFM_model_front.mat"


def test_artifact_declarations_are_light_and_resolve():
    code = (
        "import sys, tfk.tdmm.artifacts as a; print(len(a.ARTIFACTS), 'torch' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"]
    import importlib

    from tfk.tdmm.artifacts import ARTIFACTS

    ids = {a.id: a for a in ARTIFACTS}
    assert ids["shared/bfm2009"].manual and "faces.dmi.unibas.ch" in ids["shared/bfm2009"].instructions
    assert ids["shared/deep3d_epoch20"].manual and ids["shared/exp_pca_guo"].manual
    assert set(bfm.HELPER_IDS.values()) <= set(ids)
    for a in ARTIFACTS:
        for ref in (a.validator, a.derive):
            if ref:
                mod, fn = ref.split(":")
                assert callable(getattr(importlib.import_module(mod), fn))
        if not a.manual:
            assert a.sources and all(s.startswith("https://github.com/") for s in a.sources)
