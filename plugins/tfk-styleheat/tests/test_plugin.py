"""The entry module: light imports, options declared with defaults, the manifest, CLI errors as exit codes."""

from __future__ import annotations

import subprocess
import sys


def test_entry_module_stays_light():
    code = (
        "import sys, tfk_styleheat.plugin, tfk_styleheat.artifacts; print('torch' in sys.modules, 'cv2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_model_info_and_manifest():
    from tfk_styleheat import artifacts as arts
    from tfk_styleheat.plugin import tfk_artifacts, tfk_model

    info = tfk_model()
    infer = {o.dest: o for o in info.options_for("infer")}
    assert infer["inversion"].choices == ("encode", "optimize") and infer["batch_size"].default == 10
    assert infer["resolution"].default == 1024 and infer["align"].default is True
    assert {o.dest for o in info.options_for("train")} >= {"stage", "preset", "nproc_per_node", "resume"}
    ids = {a.id for a in tfk_artifacts()}
    assert set(arts.INFERENCE) <= ids and arts.AUDIO2EXP in ids and arts.INTERFACEGAN_AGE in ids
    release = [a for a in tfk_artifacts() if a.sources and "FeiiYin/StyleHEAT/releases" in a.sources[0]]
    assert {a.filename for a in release} >= {
        "StyleGAN_e4e.pth",
        "Encoder_e4e.pth",
        "hfgi.pth",
        "StyleHEAT_visual.pt",
        "ffhq_pca.pt",
        "ffhq_PCA.npz",
        "stylegan2_d_256.pth",
        "model_ir_se50.pth",
        "age.pt",
        "pose.pt",
    }


def test_cli_usage_error_exit_code(tfk_cli, tmp_path):
    from tfk.errors import ExitCode

    r = tfk_cli("infer", "styleheat", "-o", str(tmp_path / "x.mp4"))
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert "--video" in r.stderr
