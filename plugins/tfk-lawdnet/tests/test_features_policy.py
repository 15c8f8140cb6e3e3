"""Audio feature-to-frame alignment, the checkpoint <-> audio front-end policy, and the weights manifest."""

from __future__ import annotations

import numpy as np
import pytest
from tfk_lawdnet import artifacts as arts
from tfk_lawdnet.features import compute_features, frame_windows, frames_for_audio, frontend_runner
from tfk_lawdnet.infer import choose_frontend, load_dubber, resolve_checkpoint
from tfk_lawdnet.template import pingpong_indices

from tfk.errors import InputNotFound, InvalidArtifact, UsageError


@pytest.mark.parametrize("seconds,frames", [(1.0, 25), (4.0, 100), (10.03, 251), (0.01, 1), (8.0, 200)])
def test_output_frames_cover_the_audio(seconds, frames):
    assert frames_for_audio(round(seconds * 16000)) == frames


def test_frame_windows_are_centred_and_edge_padded():
    ds = np.arange(10 * 29, dtype=np.float32).reshape(10, 29)
    w = frame_windows(ds, 12)  # 2 frames past the end of the features
    assert w.shape == (12, 29, 5)
    np.testing.assert_array_equal(w[4], ds[2:7].T)  # frame i <- rows i-2 .. i+2
    np.testing.assert_array_equal(w[0][:, 0], w[0][:, 2])  # edge padding at the start
    np.testing.assert_array_equal(w[0][:, 2], ds[0])
    np.testing.assert_array_equal(w[11][:, 2], ds[9])  # past the end repeats the last row
    assert frame_windows(ds, 4).shape == (4, 29, 5)  # surplus rows dropped


def test_pingpong_template_order():
    np.testing.assert_array_equal(pingpong_indices(10, 4), [0, 1, 2, 3, 2, 1, 0, 1, 2, 3])
    np.testing.assert_array_equal(pingpong_indices(3, 10), [0, 1, 2])  # cut when the template is longer
    np.testing.assert_array_equal(pingpong_indices(4, 1), [0, 0, 0, 0])


def test_dp2_features_rate_and_resampling(tiny_weights, tmp_path):
    from tfk.testing.synth import make_audio_file

    run = frontend_runner("dp2", tiny_weights["dp2"])
    a16 = make_audio_file(tmp_path / "a16.wav", seconds=2.0, rate=16000, channels=1)
    a48 = make_audio_file(tmp_path / "a48.mp3", seconds=2.0, rate=48000, channels=2, fmt="mp3")
    f16, n16 = compute_features(a16, "dp2", runner=run)
    f48, _ = compute_features(a48, "dp2", runner=run)
    assert f16.shape == (51, 29)  # 25 * dur + 1 for deepspeech.pytorch
    assert abs(f48.shape[0] - f16.shape[0]) <= 1  # MP3 priming may add a few ms, never a rate error
    assert frames_for_audio(n16) == 50
    silence, _ = compute_features(np.zeros(16000, np.float32), "dp2", runner=run)
    assert np.isfinite(silence).all()


def test_frontend_policy_refuses_a_mismatch():
    assert choose_frontend("lawdnet/checkpoint_epoch_170", "dp2", None) == "dp2"
    assert choose_frontend("x.pth", None, "dp1") == "dp1"
    with pytest.raises(UsageError, match="trained with DP2"):
        choose_frontend("lawdnet/checkpoint_epoch_170", "dp2", "dp1")
    with pytest.raises(UsageError, match="cannot tell"):
        choose_frontend("mine.pth", None, None)


def test_load_dubber_refuses_the_wrong_frontend(tiny_weights, fake_require):
    with pytest.raises(UsageError, match="DP2"):
        load_dubber(tiny_weights["generator"], "cpu", audio_frontend="dp1", require=fake_require)


def test_checkpoint_without_a_recorded_frontend_needs_one(tiny_weights, tmp_path, fake_require):
    import torch

    anon = tmp_path / "generator.pth"  # a bare generator state dict: no epoch, no recorded front-end
    torch.save(torch.load(tiny_weights["generator"], weights_only=True)["state_dict"]["net_g"], anon)
    with pytest.raises(UsageError, match="cannot tell") as err:
        load_dubber(anon, "cpu", require=fake_require)
    assert "--audio-frontend" in err.value.hint
    d = load_dubber(anon, "cpu", audio_frontend="dp2", mouth=64, grid_size=8, require=fake_require)
    assert d.frontend == "dp2" and d.mouth == 64


def test_resolve_checkpoint_aliases_and_errors(tmp_path, fake_require):
    assert resolve_checkpoint(None, fake_require)[1] == arts.CKPT_170
    assert resolve_checkpoint("170", fake_require)[1] == arts.CKPT_170
    assert resolve_checkpoint("checkpoint_epoch_170", fake_require)[1] == arts.CKPT_170
    with pytest.raises(InputNotFound):
        resolve_checkpoint(str(tmp_path / "nope.pth"), fake_require)


def test_generator_validator_refuses_foreign_checkpoints(tmp_path, tiny_weights):
    import torch

    arts.validate_generator_checkpoint(tiny_weights["generator"])
    old = tmp_path / "old.pth"
    torch.save({"state_dict": {"net_g": {"module.cross_modal_attention.attn.in_proj_weight": torch.zeros(3)}}}, old)
    with pytest.raises(InvalidArtifact, match="April-June 2024"):
        arts.validate_generator_checkpoint(old)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InvalidArtifact):
        arts.validate_generator_checkpoint(junk)


def test_manifest_ties_checkpoints_to_frontends_and_explains_manual_imports():
    by_id = {a.id: a for a in arts.ARTIFACTS}
    for aid, frontend in arts.CHECKPOINT_FRONTEND.items():
        art = by_id[aid]
        assert art.manual and art.meta["audio_frontend"] == frontend
        assert f"tfk weights import {aid} " in art.instructions
        assert "pan.baidu.com" in art.instructions
    assert by_id[arts.SYNCNET].manual and f"tfk weights import {arts.SYNCNET}" in by_id[arts.SYNCNET].instructions
    vgg = by_id[arts.VGG19]
    assert not vgg.manual and vgg.sources[0].startswith("https://download.pytorch.org/")
    # the front-end weights are the shared audio toolbox's artifacts, and they name lawdnet
    from tfk.audio import deepspeech_pt, deepspeech_tf
    from tfk.weights import catalog

    assert arts.DP2_CHECKPOINT == deepspeech_pt.ARTIFACT_ID
    assert arts.DP1_GRAPH == deepspeech_tf.ARTIFACT_ID
    shared = catalog.all_artifacts()
    for aid in (arts.DP1_GRAPH, arts.DP2_CHECKPOINT):
        assert "lawdnet" in shared[aid].used_by


def test_entry_module_is_light():
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r}); import tfk_lawdnet.plugin as p; p.tfk_model(); "
        "p.tfk_artifacts(); bad = [m for m in ('torch', 'cv2', 'numpy', 'av', 'tensorflow', 'dlib') "
        "if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_info_declares_the_stages():
    from tfk_lawdnet.plugin import tfk_model

    info = tfk_model()
    infer = {o.name: o for o in info.options_for("infer")}
    assert infer["video"].required and infer["video"].media == "video"
    assert infer["audio"].required and infer["audio"].media == "audio"
    assert infer["output"].short == "-o" and infer["batch_size"].default == 20
    assert "device" not in infer and "uid" not in infer  # added by the core
    serve = {o.name: o for o in info.options_for("serve")}
    assert serve["host"].default == "127.0.0.1" and serve["port"].default == 5828
    assert {o.name for o in info.options_for("train")} >= {"stage", "preset", "nproc_per_node"}


def test_doctor_checks_run_and_report_a_missing_checkpoint():
    from tfk_lawdnet.plugin import tfk_doctor_checks

    results = {c.name: c.run() for c in tfk_doctor_checks()}
    assert all(status in ("ok", "warn", "error") for status, _ in results.values())
    assert results["lawdnet: generator checkpoint"][0] == "warn"  # a fresh TFK_HOME has none
