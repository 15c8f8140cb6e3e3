"""Plugin discovery, fault isolation, per-model dispatch and per-stage options."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tfk.errors import ExitCode

FAKES = Path(__file__).resolve().parents[1] / "fakes"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch):
    """Expose the fake plugins in tests/fakes through TFK_PLUGIN_MODULES."""
    monkeypatch.syspath_prepend(str(FAKES))

    def use(**mapping: str) -> None:
        pairs = ["echo=tfk_echo.plugin", *(f"{k}={v}" for k, v in mapping.items())]
        monkeypatch.setenv("TFK_PLUGIN_MODULES", ",".join(pairs))

    return use


def _models(tfk_cli) -> dict[str, dict]:
    res = tfk_cli("models", "--json")
    assert res.exit_code == 0, res.stderr
    return {r["name"]: r for r in json.loads(res.stdout)}


def test_echo_fixture_is_registered_by_the_tests(tfk_cli):
    rows = _models(tfk_cli)
    echo = rows["echo"]
    assert echo["status"] == "ok"
    assert echo["version"] == "0.1.0"
    assert echo["stages"] == ["preprocess", "infer"]


def test_install_script_does_not_install_the_fixture():
    script = (Path(__file__).resolve().parents[2] / "scripts" / "install.sh").read_text()
    assert "tfk-echo" not in script


def test_hook_tfk_model_gives_version_and_options(tfk_cli):
    res = tfk_cli("infer", "echo", "--help")
    assert res.exit_code == 0
    for flag in ("--video", "--audio", "--output", "--invert", "--device"):
        assert flag in res.stdout


def test_broken_plugin_is_listed_and_others_keep_working(fakes, tfk_cli, tmp_path):
    fakes(broken="broken_plugin", halfway="halfway_plugin")
    rows = _models(tfk_cli)
    assert rows["broken"]["status"] == "broken"
    assert "libfoo.so.1" in rows["broken"]["reason"]
    assert rows["echo"]["status"] == "ok"
    img = tmp_path / "face.png"
    img.write_bytes(b"x")
    res = tfk_cli("infer", "halfway", "--image", str(img), "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    res = tfk_cli("infer", "broken", "--help")
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "broken" in res.stderr and "Traceback" not in res.stderr


def test_hook_tfk_available_and_plugin_unavailable(fakes, tfk_cli):
    fakes(gpu="gpu_only_plugin", unavail="unavailable_plugin")
    rows = _models(tfk_cli)
    assert rows["gpu"]["status"] == "unavailable"
    assert "CUDA GPU" in rows["gpu"]["reason"]
    assert rows["unavail"]["status"] == "unavailable"
    assert "CUDA >= 11.8" in rows["unavail"]["reason"]
    res = tfk_cli("infer", "gpu")
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "unavailable here" in res.stderr


def test_disable_plugins_env(monkeypatch, tfk_cli):
    monkeypatch.setenv("TFK_DISABLE_PLUGINS", "echo,other")
    assert _models(tfk_cli)["echo"]["status"] == "disabled"
    res = tfk_cli("infer", "echo", "--help")
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "disabled" in res.stderr


def test_load_plugins_empty_loads_none(monkeypatch, tfk_cli):
    monkeypatch.setenv("TFK_LOAD_PLUGINS", "")
    rows = _models(tfk_cli)
    assert rows["echo"]["status"] == "disabled"


def test_hook_tfk_infer_dispatches_to_the_named_plugin_only(fakes, tfk_cli, tmp_path):
    fakes(halfway="halfway_plugin")
    img = tmp_path / "face.png"
    img.write_bytes(b"x")
    res = tfk_cli("infer", "halfway", "--image", str(img), "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == f"halfway saw {img} on cpu"


def test_stage_options_are_per_model(fakes, tfk_cli):
    fakes(halfway="halfway_plugin")
    res = tfk_cli("infer", "halfway", "--help")
    assert "--image" in res.stdout and "--video" not in res.stdout
    res = tfk_cli("preprocess", "echo", "--help")
    assert "VIDEO" in res.stdout and "--uid" in res.stdout and "--from" in res.stdout


def test_missing_stage_says_so(tfk_cli):
    res = tfk_cli("evaluate", "echo")
    assert res.exit_code == ExitCode.USAGE
    assert "echo does not implement evaluate" in res.stderr


def test_official_model_not_installed_names_the_package(monkeypatch, tfk_cli):
    import tfk.registry

    monkeypatch.setitem(tfk.registry.OFFICIAL, "nosuchmodel", "tfk-nosuchmodel")
    res = tfk_cli("infer", "nosuchmodel")
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "tfk-nosuchmodel" in res.stderr and "pip install" in res.stderr
    rows = _models(tfk_cli)
    assert rows["nosuchmodel"]["status"] == "not-installed"


def test_unknown_model_suggests(tfk_cli):
    res = tfk_cli("infer", "ecoh")
    assert res.exit_code == ExitCode.USAGE
    assert "did you mean 'echo'" in res.stderr


def test_plugin_crash_is_one_line_without_debug(fakes, tfk_cli):
    fakes(crash="crashing_plugin")
    res = tfk_cli("infer", "crash", "--device", "cpu")
    assert res.exit_code == ExitCode.PLUGIN_CRASH
    assert "ZeroDivisionError: plugin bug" in res.stderr
    assert "Traceback" not in res.stderr
    res = tfk_cli("--debug", "infer", "crash", "--device", "cpu")
    assert res.exit_code == ExitCode.PLUGIN_CRASH
    assert "Traceback" in res.stderr


def test_hook_tfk_artifacts_registered():
    from tfk.registry import load_registry

    reg = load_registry(refresh=True)
    assert "echo/model" in reg.artifacts and reg.artifacts["echo/model"].sha256
    assert reg.artifacts["echo/gated"].manual
    assert [a.id for a in reg.plugins["echo"].artifacts] == ["echo/model", "echo/gated"]


def test_hook_tfk_artifacts_must_be_namespaced(fakes, tmp_path, tfk_cli):
    (tmp_path / "badns_plugin.py").write_text(
        "from tfk.plugin import ModelInfo, hookimpl\n"
        "from tfk.weights.artifact import Artifact\n"
        "@hookimpl\ndef tfk_model():\n    return ModelInfo(summary='x', version='1')\n"
        "@hookimpl\ndef tfk_artifacts():\n    return [Artifact(id='lawdnet/stolen', filename='a.bin')]\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        fakes(badns="badns_plugin")
        rows = _models(tfk_cli)
        assert rows["badns"]["status"] == "broken" and "lawdnet/stolen" in rows["badns"]["reason"]
    finally:
        sys.path.remove(str(tmp_path))


def test_hook_tfk_doctor_checks(tfk_cli):
    res = tfk_cli("doctor", "echo", "--json")
    data = json.loads(res.stdout)
    names = {(c["area"], c["check"]): c for c in data["checks"]}
    assert names[("echo", "self-test")]["status"] == "ok"
    assert names[("plugins", "echo")]["status"] == "ok"


def test_hook_specs_are_documented_and_tested():
    """Meta-test: every hook spec has a docstring, a README entry and a test named after it."""
    import inspect

    from tfk import hookspecs

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    tests_text = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("tfk_")]
    assert {"tfk_preprocess", "tfk_train", "tfk_infer", "tfk_evaluate", "tfk_download_weights"} <= set(hooks)
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert f"`{name}`" in readme, f"{name} is not documented in README.md"
        assert f"test_hook_{name}" in tests_text, f"{name} has no test_hook_{name}"


@pytest.mark.parametrize("verb", ["train", "evaluate", "download-weights", "serve"])
def test_hook_dispatch_of_other_stages(fakes, tmp_path, verb):
    """test_hook_tfk_train, test_hook_tfk_evaluate, test_hook_tfk_download_weights, test_hook_tfk_serve:
    each hook reaches the named plugin through the registry and returns its value."""
    mod = tmp_path / "allstages_plugin.py"
    mod.write_text(
        textwrap.dedent("""
        from tfk.plugin import ModelInfo, hookimpl

        @hookimpl
        def tfk_model():
            return ModelInfo(summary="all", version="1")

        @hookimpl
        def tfk_train(ctx, options):
            return ("train", ctx.stage)

        @hookimpl
        def tfk_evaluate(ctx, options):
            return {"psnr": 30.0}

        @hookimpl
        def tfk_serve(ctx, options):
            return ("serve", ctx.stage)

        @hookimpl
        def tfk_download_weights(ctx, options):
            return ("download", ctx.stage)
    """)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        fakes(allst="allstages_plugin")
        from tfk.plugin import StageContext
        from tfk.registry import load_registry

        reg = load_registry(refresh=True)
        assert reg.plugins["allst"].stages == ("train", "evaluate", "download-weights", "serve")
        ctx = StageContext(model="allst", stage=verb, home=tmp_path)
        out = reg.dispatch("allst", verb, ctx, {})
        if verb == "evaluate":
            assert out == {"psnr": 30.0}
        else:
            assert out == (verb.split("-")[0], verb)
    finally:
        sys.path.remove(str(tmp_path))


def test_discovery_from_a_real_dist_info(tmp_path, monkeypatch, tfk_cli):
    """End-to-end entry-point discovery without pip: a dist-info directory on sys.path."""
    (tmp_path / "distplug.py").write_text(
        "from tfk.plugin import ModelInfo, hookimpl\n"
        "@hookimpl\ndef tfk_model():\n    return ModelInfo(summary='from dist-info', version='3.1')\n"
    )
    di = tmp_path / "tfk_distplug-3.1.dist-info"
    di.mkdir()
    (di / "METADATA").write_text("Metadata-Version: 2.1\nName: tfk-distplug\nVersion: 3.1\n")
    (di / "entry_points.txt").write_text("[tfk.plugins]\ndistplug = distplug\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = _models(tfk_cli)
    assert rows["distplug"]["package"] == "tfk-distplug"
    assert rows["distplug"]["version"] == "3.1"
    assert rows["distplug"]["status"] == "ok"


def test_cli_start_and_plugin_entry_modules_import_nothing_heavy():
    code = textwrap.dedent("""
        import sys, json
        from tfk.cli.app import build_command
        build_command()
        from tfk.registry import load_registry
        reg = load_registry()
        heavy = sorted(m for m in ("torch", "cv2", "dlib", "tensorflow", "av", "scipy", "skimage") if m in sys.modules)
        print(json.dumps({"heavy": heavy, "plugins": sorted(reg.plugins)}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert "echo" in data["plugins"]
    assert data["heavy"] == [], f"heavy modules imported at start-up: {data['heavy']}"
