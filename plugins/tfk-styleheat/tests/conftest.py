"""Fixtures of the StyleHEAT plugin tests: tfk's pytest fixtures plus tiny random weights in the published layouts.

The weights come from :func:`tfk_styleheat.tiny.write_tiny_weights` (published layouts, tiny widths).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfk.testing.pytest_plugin import (  # noqa: E402,F401 - re-exported fixtures
    _tfk_network_guard,
    shared_media,
    synthetic_clip,
    tfk_cli,
    tfk_home,
)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tfk_styleheat.tiny import write_tiny_weights

    return write_tiny_weights(tmp_path_factory.mktemp("styleheat_weights"))


@pytest.fixture(scope="session")
def fake_require(tiny_weights):
    """A ``require(artifact_id)`` that serves the tiny weights (the store is tested in the core)."""
    from tfk_styleheat.tiny import TableRequire

    return TableRequire(tiny_weights)
