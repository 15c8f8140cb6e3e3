"""Fixtures of the batch tests: a short clip, a corrupt one, a file:// mirror with the echo weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s, 96x96, 25 fps talking-face clip with audio (25 frames: one echo chunk)."""
    from tfk.testing.synth import make_talking_clip

    return make_talking_clip(tmp_path_factory.mktemp("batchclip") / "clip.mp4", seconds=1.0, size=96)


@pytest.fixture
def echo_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tfk_echo.plugin import WEIGHTS_BYTES, WEIGHTS_SHA256

    root = tmp_path / "mirror"
    d = root / "sha256" / WEIGHTS_SHA256
    d.mkdir(parents=True)
    (d / "echo-model.bin").write_bytes(WEIGHTS_BYTES)
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", root.as_uri())
    return root


@pytest.fixture
def corrupt_clip(tmp_path: Path) -> Path:
    p = tmp_path / "corrupt.mp4"
    p.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 20)
    return p


@pytest.fixture
def make_jobs(tmp_path: Path):
    """``make_jobs([{"input": ..., "uid": ...}, ...])`` -> a JSONL jobs file."""

    def make(rows: list[dict], name: str = "jobs.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
        return path

    return make


@pytest.fixture
def batch_status(tfk_cli):
    """``batch_status(jobs)`` -> {uid: row} from ``tfk batch status --json``."""

    def get(jobs: Path) -> dict[str, dict]:
        res = tfk_cli("batch", "status", str(jobs), "--json")
        assert res.exit_code == 0, res.stderr
        return {r["uid"]: r for r in json.loads(res.stdout)["jobs"]}

    return get
