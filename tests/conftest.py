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
