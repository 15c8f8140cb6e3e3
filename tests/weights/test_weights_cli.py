"""``tfk weights list|pull|verify|path|import|rm``: output streams, JSON and exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
from pathlib import Path

import pytest

from tfk.errors import InvalidArtifact
from tfk.weights import store
from tfk.weights.artifact import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATA = os.urandom(120_000)
GATED = b"GATED-v1" + os.urandom(500)
INSTRUCTIONS = "1. Register at https://faces.example/bfm\n2. Download   01_MorphableModel.mat  (keep   spacing)"


@pytest.fixture
def arts(tmp_path, register, monkeypatch):
    mod = types.ModuleType("tfk_cli_hooks")

    def check(path):
        if not Path(path).read_bytes().startswith(b"GATED-v1"):
            raise InvalidArtifact("not a GATED-v1 file")

    mod.check = check
    monkeypatch.setitem(sys.modules, "tfk_cli_hooks", mod)
    src = tmp_path / "upstream.pth"
    src.write_bytes(DATA)
    return register(
        Artifact("clidemo/net", "net.pth", sha256=sha(DATA), size=len(DATA), sources=(src.as_uri(),), license="MIT"),
        Artifact("clidemo/unpinned", "u.pth", size=len(DATA), sources=(src.as_uri(),)),
        Artifact(
            "shared/clidemo_gated",
            "01_MorphableModel.mat",
            manual=True,
            instructions=INSTRUCTIONS,
            validator="tfk_cli_hooks:check",
            license="BFM",
            used_by=("clidemo",),
        ),
    )


def _rows(out: str) -> dict[str, dict]:
    return {r["id"]: r for r in json.loads(out)}


def test_list_json_and_missing(cli, arts):
    r = cli("list", "clidemo", "--json")
    assert r.exit_code == 0
    rows = _rows(r.stdout)
    assert set(rows) == {"clidemo/net", "clidemo/unpinned", "shared/clidemo_gated"}
    assert rows["clidemo/net"]["status"] == "missing" and rows["clidemo/net"]["pinned"] is True
    assert rows["clidemo/unpinned"]["pinned"] is False and rows["clidemo/unpinned"]["sha256"] is None
    assert rows["shared/clidemo_gated"]["status"] == "manual-required"
    assert cli("pull", "clidemo/net", "clidemo/unpinned").exit_code == 0
    rows = _rows(cli("list", "clidemo", "--json").stdout)
    assert rows["clidemo/net"]["status"] == "verified"
    assert rows["clidemo/unpinned"]["status"] == "verified"
    assert rows["clidemo/unpinned"]["pinned"] is False and rows["clidemo/unpinned"]["sha256"] == sha(DATA)
    assert rows["clidemo/net"]["path"].endswith("by-id/clidemo/net/net.pth")
    assert set(_rows(cli("list", "clidemo", "--missing", "--json").stdout)) == {"shared/clidemo_gated"}
    human = cli("list", "clidemo")
    assert human.exit_code == 0
    assert "unpinned" in human.stdout and "manual-required" in human.stdout


def test_list_unknown_target_is_usage_error(cli, arts):
    r = cli("list", "clidemo/nett")
    assert r.exit_code == 2
    assert "did you mean 'clidemo/net'" in r.stderr


def test_pull_model_prints_instructions_verbatim_and_exits_69(cli, arts):
    r = cli("pull", "clidemo")
    assert r.exit_code == 69
    assert INSTRUCTIONS in r.stderr  # verbatim, spacing kept
    assert "tfk weights import shared/clidemo_gated" in r.stderr
    assert store.status(arts[0]) == "verified" and store.status(arts[1]) == "verified"
    assert r.stdout == ""


def test_pull_dry_run_downloads_nothing(cli, arts):
    r = cli("pull", "clidemo/net", "--dry-run")
    assert r.exit_code == 0 and "would download clidemo/net" in r.stderr
    assert store.status(arts[0]) == "missing"


def test_pull_requires_a_target(cli, arts):
    assert cli("pull").exit_code == 2


def test_pull_network_failure_exits_75(cli, register, http_server):
    url = http_server.add("/x.bin", DATA)
    http_server.fault("/x.bin", status=503, times=None)
    register(Artifact("clidemo/flaky", "x.bin", sha256=sha(DATA), sources=(url,)))
    r = cli("pull", "clidemo/flaky")
    assert r.exit_code == 75
    assert "503" in r.stderr


def test_path_prints_one_line(cli, arts):
    assert cli("path", "clidemo/net").exit_code == 69
    cli("pull", "clidemo/net")
    r = cli("path", "clidemo/net")
    assert r.exit_code == 0
    assert r.stdout.count("\n") == 1
    p = Path(r.stdout.strip())
    assert p.is_absolute() and p.read_bytes() == DATA
    assert r.stderr == ""
    root = cli("path", "--root")
    assert root.exit_code == 0 and Path(root.stdout.strip()) == store.Store().root
    assert cli("path").exit_code == 2
    r = cli("path", "shared/clidemo_gated")
    assert r.exit_code == 69 and "tfk weights import shared/clidemo_gated FILE" in r.stderr


def test_verify_json_and_corrupt_exit_65(cli, arts):
    cli("pull", "clidemo/net", "clidemo/unpinned")
    r = cli("verify", "--json")
    assert r.exit_code == 0
    res = json.loads(r.stdout)
    assert res["clidemo/net"] == "verified" and res["clidemo/unpinned"] == "verified"
    p = store.Store().view_path(arts[1])
    os.chmod(p, 0o644)
    os.unlink(p)  # break the hard link so that only the view changes
    p.write_bytes(b"tampered")
    r = cli("verify", "clidemo/unpinned", "--json")
    assert r.exit_code == 65
    assert json.loads(r.stdout) == {"clidemo/unpinned": "corrupt"}
    assert _rows(cli("list", "clidemo/unpinned", "--json").stdout)["clidemo/unpinned"]["status"] == "corrupt"


def test_import_gated_via_cli(cli, arts, tmp_path):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"nope")
    r = cli("import", "shared/clidemo_gated", str(bad))
    assert r.exit_code == 65 and "GATED-v1" in r.stderr
    assert cli("import", "shared/clidemo_gated", str(tmp_path / "missing.mat")).exit_code == 66
    good = tmp_path / "good.mat"
    good.write_bytes(GATED)
    r = cli("import", "shared/clidemo_gated", str(good), "--move")
    assert r.exit_code == 0, r.stderr
    assert Path(r.stdout.strip()).read_bytes() == GATED
    assert not good.exists()
    row = _rows(cli("list", "shared/clidemo_gated", "--json").stdout)["shared/clidemo_gated"]
    assert row["status"] == "verified" and row["pinned"] is True and row["source"].startswith("manual:")
    assert cli("pull", "clidemo").exit_code == 0  # nothing manual missing any more


def test_import_pinned_wrong_hash_exit_65(cli, arts, tmp_path):
    f = tmp_path / "net.pth"
    f.write_bytes(DATA + b"x")
    r = cli("import", "clidemo/net", str(f))
    assert r.exit_code == 65
    assert store.find("clidemo/net") is None


def test_rm(cli, arts):
    cli("pull", "clidemo/net")
    r = cli("rm", "clidemo/net")  # not a terminal and no --yes
    assert r.exit_code == 2 and "--yes" in r.stderr
    assert store.find("clidemo/net") is not None
    r = cli("rm", "clidemo/net", "--yes")
    assert r.exit_code == 0
    assert store.find("clidemo/net") is None
    assert cli("rm", "clidemo/net", "--yes").exit_code == 0  # idempotent


def test_offline_cli_exit_69(cli, arts, monkeypatch, no_network):
    monkeypatch.setenv("TFK_OFFLINE", "1")
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", "https://mirror.example/tfk")
    r = cli("pull", "clidemo/net")
    # file:// upstream sources still work offline; use an http-only artifact to see the refusal.
    assert r.exit_code == 0
    store.remove("clidemo/net")
    from tfk.weights import catalog

    catalog.register_artifacts([Artifact("clidemo/net", "net.pth", sha256=sha(DATA), sources=("https://x.example/n",))])
    r = cli("pull", "clidemo/net")
    assert r.exit_code == 69
    assert "clidemo/net" in r.stderr and "unset TFK_OFFLINE" in r.stderr
    assert no_network == []


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    os.unlink(path)  # break the hard link so that only the view changes
    path.write_bytes(data)


def test_unreadable_index_does_not_turn_integrity_checks_off(cli, arts, tmp_path):
    """A garbage index.json: verify re-checks every file against its declaration and exits 65 on bad ones."""
    cli("pull", "clidemo/net", "clidemo/unpinned")
    good = tmp_path / "gated.mat"
    good.write_bytes(GATED)
    assert cli("import", "shared/clidemo_gated", str(good)).exit_code == 0
    s = store.Store()
    _tamper(s.view_path(arts[0]), b"x" * len(DATA))  # pinned: the declared sha256 tells
    _tamper(s.view_path(arts[2]), b"not the gated file")  # manual: the validator tells
    s.index_path.write_text("{ this is not json")
    # require() never hands out the garbage file: it is re-checked and fetched again
    assert store.require("clidemo/net", progress=False).read_bytes() == DATA
    _tamper(s.view_path(arts[0]), b"x" * len(DATA))
    s.index_path.write_text("{ this is not json")
    r = cli("verify", "--json")
    assert r.exit_code == 65, r.stderr
    assert "unreadable" in r.stderr
    res = json.loads(r.stdout)
    assert res == {"clidemo/net": "corrupt", "clidemo/unpinned": "verified", "shared/clidemo_gated": "corrupt"}
    assert "tfk weights rm shared/clidemo_gated --yes && tfk weights import shared/clidemo_gated FILE" in r.stderr
    assert "pull shared/clidemo_gated" not in r.stderr
    assert "tfk weights rm clidemo/net --yes && tfk weights pull clidemo/net" in r.stderr
    assert list(s.root.glob("index.json.unreadable-*"))  # the unreadable file is kept for inspection
    # the index is rebuilt: a second verify agrees without the warning, and a re-pull repairs the pinned file
    r = cli("verify", "--json")
    assert r.exit_code == 65 and "unreadable" not in r.stderr
    assert cli("rm", "clidemo/net", "--yes").exit_code == 0 and cli("pull", "clidemo/net").exit_code == 0
    assert json.loads(cli("verify", "clidemo/net", "--json").stdout) == {"clidemo/net": "verified"}


def test_unreadable_index_with_good_files_verifies_them_again(cli, arts):
    cli("pull", "clidemo/net", "clidemo/unpinned")
    store.Store().index_path.write_bytes(b"\x00\xff garbage")
    r = cli("verify", "--json")
    assert r.exit_code == 0 and "unreadable" in r.stderr
    assert json.loads(r.stdout) == {"clidemo/net": "verified", "clidemo/unpinned": "verified"}
    assert store.status("clidemo/unpinned") == "verified"
