"""Core test suite: tfk's pytest fixtures, plus the echo fixture plugin registered for these tests only.

The echo plugin (``tests/fixtures/tfk-echo``) is never installed into a user's environment; the tests
put it on ``sys.path`` and name it in ``TFK_PLUGIN_MODULES``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tfk.testing.pytest_plugin"]

ECHO_DIR = Path(__file__).resolve().parent / "fixtures" / "tfk-echo"
ECHO = "echo=tfk_echo.plugin"

if str(ECHO_DIR) not in sys.path:
    sys.path.insert(0, str(ECHO_DIR))


@pytest.fixture(autouse=True)
def _register_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFK_PLUGIN_MODULES", ECHO)
    # child processes (tfk batch jobs, torchrun workers, tfk ui) find it the same way
    path = os.environ.get("PYTHONPATH", "")
    if str(ECHO_DIR) not in path.split(os.pathsep):
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ECHO_DIR), path) if p))


@pytest.fixture
def load_probe_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``load(model, module, source)``: register plugin source text as model ``model`` (beside echo), import it
    fresh (not an earlier test's module) and return the module."""
    import importlib

    def load(model: str, module: str, source: str):
        d = tmp_path / "plug"
        d.mkdir(exist_ok=True)
        (d / f"{module}.py").write_text(source)
        monkeypatch.syspath_prepend(str(d))
        monkeypatch.setenv("TFK_PLUGIN_MODULES", f"{ECHO},{model}={module}")
        sys.modules.pop(module, None)
        return importlib.import_module(module)

    return load
