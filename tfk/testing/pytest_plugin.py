"""pytest fixtures for tfk and plugin test suites.

- ``tfk_home`` (autouse): a temporary ``TFK_HOME``; ``TFK_OFFLINE``/mirror settings cleared.
- network guard (autouse): a test that opens a non-loopback socket fails; mark a test
  ``@pytest.mark.allow_network`` to opt out.
- ``http_server``: a local HTTP server on 127.0.0.1 for weights tests.
- ``synthetic_clip``: a 4 s, 256x256, 25 fps H.264+AAC clip of a real face (scikit-image's
  astronaut) whose mouth opens with the audio; built once per session.
- ``shared_media``: ``../shared/media`` (or ``TFK_SHARED_MEDIA``); the test is skipped when absent.
- ``tfk_cli``: run the CLI in-process, returning exit code, stdout and stderr.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_network: the test may open non-loopback sockets")


@pytest.fixture(autouse=True)
def tfk_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("tfk_home")
    monkeypatch.setenv("TFK_HOME", str(home))
    for var in ("TFK_OFFLINE", "TFK_WEIGHTS_MIRROR", "TFK_DEBUG", "TFK_DISABLE_PLUGINS", "TFK_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TFK_PROGRESS", "none")
    return home


@pytest.fixture(autouse=True)
def _tfk_network_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("allow_network"):
        yield
        return
    from tfk.testing.netguard import block_network

    with block_network():
        yield


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[object]:
    from tfk.testing.httpserver import LocalHTTPServer

    server = LocalHTTPServer(root=tmp_path / "srv")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shared_media_dir() -> Path | None:
    """``TFK_SHARED_MEDIA`` or ``<checkout>/../shared/media`` when it exists."""
    env = os.environ.get("TFK_SHARED_MEDIA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "media" for p in here.parents[2:4]]
    candidates.append(Path.cwd().parent / "shared" / "media")
    for c in candidates:
        if (c / "WDA_KatieHill_000.mp4").exists():
            return c
    return None


@pytest.fixture(scope="session")
def shared_media() -> Path:
    d = shared_media_dir()
    if d is None:
        pytest.skip("../shared/media is not present (set TFK_SHARED_MEDIA to run this test)")
    return d


@pytest.fixture(scope="session")
def synthetic_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tfk.testing.synth import make_talking_clip

    return make_talking_clip(tmp_path_factory.mktemp("synth") / "talking.mp4")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def tfk_cli(capsys: pytest.CaptureFixture[str]):
    """``tfk_cli("models", "--json")`` -> CliResult(exit_code, stdout, stderr)."""
    from tfk.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
