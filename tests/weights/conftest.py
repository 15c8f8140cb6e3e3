"""Fixtures for the weights store tests: a private TFK_HOME, a local HTTP server, a CLI runner."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tfk.errors import TfkError
from tfk.testing.httpserver import LocalHTTPServer
from tfk.weights import catalog
from tfk.weights.artifact import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def weights_env(tmp_path, monkeypatch) -> Iterator[None]:
    """Isolated store, fast back-off, no mirrors/offline from the outer environment."""
    home = tmp_path / "tfk_home"
    monkeypatch.setenv("TFK_HOME", str(home))
    for var in ("TFK_WEIGHTS_DIR", "TFK_WEIGHTS_MIRROR", "TFK_OFFLINE", "TFK_KEEP_LIBRARY_CACHES", "TFK_LOCK_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    for var in ("TORCH_HOME", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "placeholder")  # recorded, so seed_library_caches() cannot leak out of a test
        monkeypatch.delenv(var)
    monkeypatch.setenv("TFK_DOWNLOAD_BACKOFF", "0.01")
    monkeypatch.setenv("TFK_DOWNLOAD_TIMEOUT", "5")
    monkeypatch.setenv("TFK_DOWNLOAD_RETRIES", "3")
    catalog.clear_registered()
    yield
    catalog.clear_registered()


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def register():
    """register(*artifacts) -> the artifacts, added to the catalog for this test."""

    def _register(*arts: Artifact) -> tuple[Artifact, ...]:
        catalog.register_artifacts(arts)
        return arts

    return _register


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test (loopback included)."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"a socket was opened: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


@pytest.fixture
def cli():
    """cli(*args) runs ``tfk weights ARGS`` and maps TfkError to its exit code, like tfk's main()."""
    from typer.testing import CliRunner

    from tfk.cli.weights import app

    def _run(*args: str, input: str | None = None) -> CliResult:  # noqa: A002
        result = CliRunner().invoke(app, list(args), input=input)
        code = result.exit_code
        exc = result.exception
        stderr = result.stderr
        if isinstance(exc, TfkError):
            code = int(exc.exit_code)
            stderr += f"error: {exc.message}\n" + (f"hint: {exc.hint}\n" if exc.hint else "")
        elif exc is not None and not isinstance(exc, SystemExit):
            raise exc
        return CliResult(code, result.stdout, stderr, exc)

    return _run
