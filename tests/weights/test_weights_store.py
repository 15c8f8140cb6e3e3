"""The store: stamps, verify, tampering, import (pinned and gated), derive, remove, seeding, concurrency."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from tfk.errors import (
    ChecksumMismatch,
    ExitCode,
    InputNotFound,
    InvalidArtifact,
    LockTimeout,
    MissingWeights,
    UsageError,
)
from tfk.weights import catalog, store
from tfk.weights.artifact import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATA = os.urandom(300_000)
MAT_MAGIC = b"MATLAB 5.0 MAT-file"


@pytest.fixture
def hooks(monkeypatch):
    """A module 'tfk_test_hooks' with a validator and a derive function, importable by reference."""
    mod = types.ModuleType("tfk_test_hooks")
    mod.calls = []

    def validate_mat(path: Path) -> None:
        mod.calls.append(("validate", Path(path).suffix))
        if not Path(path).read_bytes().startswith(MAT_MAGIC):
            raise InvalidArtifact(f"{Path(path).name} is not a MATLAB file")

    def derive_front(path: Path, out_dir: Path) -> dict[str, Path]:
        mod.calls.append(("derive", Path(path).name))
        out = out_dir / "BFM_model_front.mat"
        out.write_bytes(Path(path).read_bytes()[::-1])
        return {"front": out}

    mod.validate_mat = validate_mat
    mod.derive_front = derive_front
    monkeypatch.setitem(sys.modules, "tfk_test_hooks", mod)
    return mod


def _bfm() -> Artifact:
    return Artifact(
        "shared/bfm2009",
        "01_MorphableModel.mat",
        manual=True,
        license="BFM academic licence",
        instructions="Register at https://faces.example/bfm and accept the licence.\nDownload 01_MorphableModel.mat.",
        validator="tfk_test_hooks:validate_mat",
        derive="tfk_test_hooks:derive_front",
        used_by=("dfrf", "ernerf"),
    )


def _file_art(tmp_path: Path, data: bytes = DATA, *, pinned: bool = True, aid: str = "demo/net") -> Artifact:
    src = tmp_path / f"upstream-{aid.replace('/', '_')}.bin"
    src.write_bytes(data)
    return Artifact(aid, "net.pth", sha256=sha(data) if pinned else None, size=len(data), sources=(src.as_uri(),))


def test_require_uses_stamp_without_rehashing(tmp_path, register, monkeypatch):
    (art,) = register(_file_art(tmp_path))
    path = store.require(art.id, progress=False)
    calls = []
    from tfk import fsutil

    real = fsutil.sha256_and_size
    monkeypatch.setattr(fsutil, "sha256_and_size", lambda p: calls.append(p) or real(p))
    assert store.require(art.id) == path
    assert calls == []  # fast path: the verified stamp
    assert store.verify([art.id]) == {art.id: "verified"}
    assert len(calls) == 1  # verify always re-hashes


def test_view_is_a_real_file_sharing_the_blob(tmp_path, register):
    (art,) = register(_file_art(tmp_path))
    path = store.require(art.id, progress=False)
    assert not path.is_symlink() and path.is_file()
    assert path == store.Store().root / "by-id" / "demo" / "net" / "net.pth"
    assert os.path.samefile(path, store.Store().blob_path(sha(DATA)))


def test_unpinned_tampering_is_reported_corrupt(tmp_path, register):
    (art,) = register(_file_art(tmp_path, pinned=False))
    path = store.require(art.id, progress=False)
    assert store.Store().entry(art.id)["sha256"] == sha(DATA)
    assert store.verify([art.id]) == {art.id: "verified"}
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:  # same size, different bytes
        f.write(b"\0" * 16)
    assert store.status(art) == "present-unverified"  # mtime changed: the stamp no longer holds
    assert store.verify([art.id]) == {art.id: "corrupt"}
    assert store.status(art) == "corrupt"
    assert store.find(art.id) is None


def test_pinned_corrupt_file_is_redownloaded_by_require(tmp_path, register):
    (art,) = register(_file_art(tmp_path))
    path = store.require(art.id, progress=False)
    os.chmod(path, 0o644)
    path.write_bytes(b"x" * len(DATA))
    assert store.require(art.id, progress=False).read_bytes() == DATA
    assert store.status(art) == "verified"


def test_missing_view_is_relinked_from_blob(tmp_path, register):
    (art,) = register(_file_art(tmp_path))
    path = store.require(art.id, progress=False)
    path.unlink()
    (tmp_path / "upstream-demo_net.bin").unlink()  # upstream gone: must come from the blob
    assert store.pull([art.id], progress=False)[art.id] == "present"
    assert path.read_bytes() == DATA


def test_import_pinned_checks_hash(tmp_path, register):
    art = Artifact("demo/gated", "g.pth", sha256=sha(DATA), manual=True, instructions="Get it from Baidu (code abcd).")
    register(art)
    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(DATA[:-1] + b"!")
    with pytest.raises(ChecksumMismatch) as ei:
        store.import_file(art.id, wrong)
    assert ei.value.exit_code == ExitCode.BAD_INPUT
    assert store.find(art.id) is None
    good = tmp_path / "good.pth"
    good.write_bytes(DATA)
    path = store.import_file(art.id, good)
    assert path.read_bytes() == DATA and good.exists()
    entry = store.Store().entry(art.id)
    assert entry["pin"] == "manifest" and entry["source"] == f"manual:{good.absolute()}"
    assert store.status(art) == "verified"


def test_import_missing_file_is_exit_66(register, tmp_path):
    (art,) = register(Artifact("demo/x", "x.bin", manual=True))
    with pytest.raises(InputNotFound) as ei:
        store.import_file(art.id, tmp_path / "nope.bin")
    assert ei.value.exit_code == ExitCode.NO_INPUT


def test_import_gated_runs_validator_pins_and_derives(tmp_path, register, hooks):
    (art,) = register(_bfm())
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"not a mat file")
    with pytest.raises(InvalidArtifact):
        store.import_file(art.id, bad)
    assert store.find(art.id) is None and store.Store().entry(art.id) is None
    content = MAT_MAGIC + os.urandom(1000)
    good = tmp_path / "downloads" / "01_MorphableModel.mat"
    good.parent.mkdir()
    good.write_bytes(content)
    path = store.import_file(art.id, good, move=True)
    assert not good.exists()  # --move
    assert path.read_bytes() == content
    assert ("validate", ".mat") in hooks.calls  # the validator saw the real suffix
    entry = store.Store().entry(art.id)
    assert entry["sha256"] == sha(content) and entry["pin"] == "import" and entry["pinned"]
    front = store.derived(art.id, "front")
    assert front.read_bytes() == content[::-1]
    assert hooks.calls.count(("derive", "01_MorphableModel.mat")) == 1
    store.derived(art.id, "front")
    assert hooks.calls.count(("derive", "01_MorphableModel.mat")) == 1  # derived once, then reused
    with pytest.raises(UsageError):
        store.derived(art.id, "nope")
    # The recorded hash now holds: tampering is corrupt.
    os.chmod(path, 0o644)
    path.write_bytes(MAT_MAGIC + b"tampered")
    assert store.verify([art.id])[art.id] == "corrupt"


def test_require_manual_missing_gives_import_command(register, hooks):
    (art,) = register(_bfm())
    with pytest.raises(MissingWeights) as ei:
        store.require(art.id)
    err = ei.value
    assert err.exit_code == ExitCode.UNAVAILABLE and err.missing == [art.id]
    assert err.hint == f"tfk weights import {art.id} FILE"
    assert "Register at https://faces.example/bfm" in err.message
    assert store.status(art) == "manual-required"
    with pytest.raises(MissingWeights):
        store.derived(art.id, "front")


def test_remove_keeps_shared_blob_until_last_reference(tmp_path, register):
    a, b = register(_file_art(tmp_path, aid="demo/a"), _file_art(tmp_path, aid="demo/b"))
    pa, pb = store.require(a.id, progress=False), store.require(b.id, progress=False)
    blob = store.Store().blob_path(sha(DATA))
    assert os.path.samefile(pa, blob) and os.path.samefile(pb, blob)
    assert store.remove(a.id) is True
    assert not pa.exists() and blob.exists() and pb.exists()
    assert store.remove(b.id) is True
    assert not blob.exists()
    assert store.remove(b.id) is False
    assert store.status(b) == "missing"


def test_unknown_id_suggests(register):
    register(Artifact("lawdnet/checkpoint_epoch_170", "c.pth", manual=True))
    with pytest.raises(UsageError) as ei:
        catalog.get("lawdnet/checkpoint_epoch_171")
    assert "did you mean 'lawdnet/checkpoint_epoch_170'" in ei.value.message
    assert ei.value.exit_code == ExitCode.USAGE


def test_for_model_includes_shared_used_by(register, hooks):
    bfm = Artifact("shared/demo_bfm", "b.mat", manual=True, used_by=("demomodel", "other"))
    register(Artifact("demomodel/base", "b.pth", size=1), bfm, Artifact("other/x", "x.pth", size=1))
    assert {a.id for a in catalog.for_model("demomodel")} == {"demomodel/base", "shared/demo_bfm"}
    assert [a.id for a in catalog.resolve(["other/x", "demomodel"])] == ["other/x", "demomodel/base", "shared/demo_bfm"]
    with pytest.raises(UsageError):
        catalog.resolve(["demomode"])


def test_seed_library_caches(tmp_path, register, monkeypatch):
    art = Artifact(
        "shared/s3fd", "s3fd.pth", sha256=sha(DATA), sources=(_src(tmp_path),), torch_hub_name="s3fd-619a316812.pth"
    )
    register(art)
    store.require(art.id, progress=False)
    monkeypatch.setenv("TFK_OFFLINE", "1")
    env = store.seed_library_caches()
    home = Path(os.environ["TFK_HOME"])
    assert os.environ["TORCH_HOME"] == str(home / "torch") == env["TORCH_HOME"]
    assert os.environ["HF_HOME"] == str(home / "hf")
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    seeded = home / "torch" / "hub" / "checkpoints" / "s3fd-619a316812.pth"
    assert seeded.read_bytes() == DATA and not seeded.is_symlink()
    # torch.hub looks exactly there (when torch is installed).
    torch = pytest.importorskip("torch")
    assert Path(torch.hub.get_dir()) == home / "torch" / "hub"


def test_keep_library_caches_leaves_env_alone(monkeypatch):
    monkeypatch.setenv("TFK_KEEP_LIBRARY_CACHES", "1")
    monkeypatch.setenv("TORCH_HOME", "/users/own/torch")
    assert store.seed_library_caches() == {}
    assert os.environ["TORCH_HOME"] == "/users/own/torch"


def _src(tmp_path: Path) -> str:
    p = tmp_path / "src.bin"
    p.write_bytes(DATA)
    return p.as_uri()


def test_lock_timeout(tmp_path, register, monkeypatch):
    import filelock

    (art,) = register(_file_art(tmp_path))
    s = store.Store()
    s.locks.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("TFK_LOCK_TIMEOUT", "0.3")
    held = filelock.FileLock(str(s.lock_file(art)))
    held.acquire()
    try:
        # Another process holds the lock: run the pull in a child so flock really conflicts.
        code = textwrap.dedent(
            f"""
            import sys
            from tfk.weights import catalog, store
            from tfk.weights.artifact import Artifact
            from tfk.errors import LockTimeout
            catalog.register_artifacts([Artifact({art.id!r}, {art.filename!r}, sha256={art.sha256!r},
                                                 sources={art.sources!r})])
            try:
                store.pull([{art.id!r}], progress=False)
            except LockTimeout as e:
                print("LOCKTIMEOUT", e.exit_code)
                sys.exit(0)
            sys.exit(3)
            """
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=60)
        assert "LOCKTIMEOUT 75" in out.stdout, out.stderr
        assert "waiting for another tfk process" in out.stderr
    finally:
        held.release()
    assert LockTimeout.exit_code == ExitCode.TEMPFAIL


CHILD = """
import json, sys
from tfk.weights import catalog, store
from tfk.weights.artifact import Artifact
catalog.register_artifacts([Artifact("demo/big", "big.bin", sha256=sys.argv[1], size=int(sys.argv[2]),
                                     sources=(sys.argv[3],))])
res = store.pull(["demo/big"], progress=False)
path = store.require("demo/big")
ok = path.read_bytes() == open(sys.argv[4], "rb").read()
print(json.dumps({"res": res["demo/big"], "path": str(path), "ok": ok}))
"""


def test_concurrent_pulls_download_once_and_all_succeed(http_server, tmp_path):
    import json

    data = os.urandom(1_500_000)
    ref = tmp_path / "ref.bin"
    ref.write_bytes(data)
    url = http_server.add("/big.bin", data)
    http_server.fault("/big.bin", delay=1.0, times=1)  # slow first answer: the others queue on the lock
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, sha(data), str(len(data)), url, str(ref)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    results = []
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert http_server.hits("/big.bin") == 1
    assert all(r["ok"] for r in results)
    assert sorted(r["res"] for r in results) == ["downloaded", "present", "present", "present"]
    assert len({r["path"] for r in results}) == 1
    tmp = store.Store().tmp
    assert not tmp.exists() or list(tmp.iterdir()) == []
