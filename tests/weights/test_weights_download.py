"""Downloads: resume after a dropped connection, retries, corrupt bytes, sources, mirrors, offline, disk."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import namedtuple

import pytest

from tfk.errors import ChecksumMismatch, DiskFull, ExitCode, NetworkError, OfflineError
from tfk.weights import store
from tfk.weights.artifact import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATA = os.urandom(2_500_000)


def _art(url: str | tuple[str, ...], *, pinned: bool = True, **kw) -> Artifact:
    sources = (url,) if isinstance(url, str) else url
    return Artifact(
        "demo/model",
        "model.pth",
        sha256=sha(DATA) if pinned else None,
        size=len(DATA),  # unpinned: the exact size is still declared (a short body is never pinned)
        sources=sources,
        license="MIT",
        **kw,
    )


def _leftovers() -> list[str]:
    """Files in the store's tmp dir and any *.part file anywhere in the store."""
    root = store.Store().root
    if not root.exists():
        return []
    return [str(p) for p in root.rglob("*") if p.is_file() and (".part" in p.name or p.parent.name == "tmp")]


def test_dropped_connection_is_resumed_with_range(http_server, register):
    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", drop_after=700_000, times=1)
    (art,) = register(_art(url))
    assert store.pull([art.id], progress=False) == {art.id: "downloaded"}
    assert http_server.hits("/m.pth") == 2
    path = store.find(art.id)
    assert path is not None and path.read_bytes() == DATA
    assert store.status(art) == "verified"
    assert _leftovers() == []


def test_interrupted_download_never_visible_and_next_pull_succeeds(http_server, register):
    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", drop_after=0, times=None)  # every attempt dies before any byte
    (art,) = register(_art(url))
    with pytest.raises(NetworkError) as ei:
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.TEMPFAIL
    assert store.find(art.id) is None
    assert store.status(art) == "missing"
    assert not store.Store().view_path(art).exists()
    assert _leftovers() == []
    assert http_server.hits("/m.pth") == 4  # 1 + TFK_DOWNLOAD_RETRIES=3
    http_server.clear_faults()
    assert store.pull([art.id], progress=False)[art.id] == "downloaded"
    assert store.require(art.id).read_bytes() == DATA


def test_retries_on_server_errors(http_server, register):
    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", status=500, times=2)
    (art,) = register(_art(url))
    assert store.require(art.id, progress=False).read_bytes() == DATA
    assert http_server.hits("/m.pth") == 3


def test_server_ignoring_range_restarts_from_zero(http_server, register):
    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", drop_after=1_000_000, times=1)
    (art,) = register(_art(url))
    # After the drop, the retry's Range header is ignored (200 with the whole body): still correct.
    orig = http_server._take_fault
    calls = {"n": 0}

    def take(path, count):
        calls["n"] += 1
        f = orig(path, count)
        if calls["n"] == 2:
            from tfk.testing.httpserver import Fault

            return Fault(ignore_range=True)
        return f

    http_server._take_fault = take
    assert store.require(art.id, progress=False).read_bytes() == DATA


def test_corrupt_download_is_rejected_and_not_visible(http_server, register):
    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", corrupt=True, times=None)
    (art,) = register(_art(url))
    with pytest.raises(ChecksumMismatch) as ei:
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.BAD_INPUT
    assert "sha256" in ei.value.message
    assert store.find(art.id) is None
    assert _leftovers() == []
    assert not any(store.Store().blobs.glob("*")) if store.Store().blobs.exists() else True


def test_corrupt_first_source_falls_back_to_next(http_server, register):
    bad = http_server.add("/bad.pth", DATA)
    good = http_server.add("/good.pth", DATA)
    http_server.fault("/bad.pth", corrupt=True, times=None)
    (art,) = register(_art((bad, good)))
    assert store.require(art.id, progress=False).read_bytes() == DATA
    assert http_server.hits("/bad.pth") == 1 and http_server.hits("/good.pth") == 1
    assert store.Store().entry(art.id)["source"] == good


def test_missing_source_404_falls_back(http_server, register):
    good = http_server.add("/good.pth", DATA)
    (art,) = register(_art((http_server.url("/gone.pth"), good)))
    assert store.require(art.id, progress=False).read_bytes() == DATA
    assert http_server.hits("/gone.pth") == 1  # a 404 is not retried


def test_http_mirror_is_tried_before_upstream(http_server, register, monkeypatch):
    upstream = http_server.add("/upstream/model.pth", DATA)
    http_server.add(f"/mirror/sha256/{sha(DATA)}/model.pth", DATA)
    (art,) = register(_art(upstream))
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", http_server.url("/mirror"))
    store.require(art.id, progress=False)
    assert http_server.hits(f"/mirror/sha256/{sha(DATA)}/model.pth") == 1
    assert http_server.hits("/upstream/model.pth") == 0


def test_file_mirror_by_id_layout_and_fallback_to_upstream(http_server, register, monkeypatch, tmp_path):
    upstream = http_server.add("/upstream/model.pth", DATA)
    (art,) = register(_art(upstream, pinned=False))
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    mirror = tmp_path / "mirror"
    (mirror / "demo" / "model").mkdir(parents=True)
    (mirror / "demo" / "model" / "model.pth").write_bytes(DATA)
    # An empty mirror first, then a file:// mirror with the <id>/<filename> layout: upstream is not touched.
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", f"{empty.as_uri()}, {mirror.as_uri()}")
    store.require(art.id, progress=False)
    assert http_server.hits("/upstream/model.pth") == 0
    assert store.Store().entry(art.id)["source"].startswith("file://")
    # With a mirror that lacks the file, upstream is used.
    store.remove(art.id)
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", empty.as_uri())
    store.require(art.id, progress=False)
    assert http_server.hits("/upstream/model.pth") == 1


def test_pull_mirror_argument_overrides_env(http_server, register, monkeypatch, tmp_path):
    (art,) = register(_art(http_server.url("/nowhere.pth")))
    mirror = tmp_path / "m" / "sha256" / sha(DATA)
    mirror.mkdir(parents=True)
    (mirror / "model.pth").write_bytes(DATA)
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", "file:///does/not/exist")
    assert store.pull([art.id], progress=False, mirror=(tmp_path / "m").as_uri())[art.id] == "downloaded"
    assert http_server.hits("/nowhere.pth") == 0


def test_offline_opens_no_socket_and_lists_fixes(register, monkeypatch, no_network):
    public, gated = register(
        _art("https://example.invalid/model.pth"),
        Artifact("shared/bfm", "01_MorphableModel.mat", manual=True, instructions="Register at faces.example"),
    )
    monkeypatch.setenv("TFK_OFFLINE", "1")
    with pytest.raises(OfflineError) as ei:
        store.pull([public.id, gated.id], progress=False)
    err = ei.value
    assert err.exit_code == ExitCode.UNAVAILABLE
    assert set(err.missing) == {public.id, gated.id}
    assert public.id in err.message and gated.id in err.message
    assert f"tfk weights import {gated.id} FILE" in err.hint
    assert f"tfk weights pull {public.id}" in err.hint and "TFK_OFFLINE" in err.hint
    with pytest.raises(OfflineError):
        store.require(public.id, progress=False)
    assert no_network == []


def test_offline_still_uses_file_mirror(register, monkeypatch, no_network, tmp_path):
    (art,) = register(_art("https://example.invalid/model.pth"))
    d = tmp_path / "mirror" / "sha256" / sha(DATA)
    d.mkdir(parents=True)
    (d / "model.pth").write_bytes(DATA)
    monkeypatch.setenv("TFK_OFFLINE", "1")
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", (tmp_path / "mirror").as_uri())
    assert store.require(art.id, progress=False).read_bytes() == DATA


def test_disk_full_refuses_before_downloading(http_server, register, monkeypatch):
    url = http_server.add("/m.pth", DATA)
    (art,) = register(_art(url))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DiskFull) as ei:
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.TEMPFAIL
    assert http_server.hits("/m.pth") == 0


def test_unpinned_first_download_records_hash_and_holds_later_downloads_to_it(http_server, register):
    url = http_server.add("/m.pth", DATA)
    (art,) = register(_art(url, pinned=False))
    store.require(art.id, progress=False)
    entry = store.Store().entry(art.id)
    assert entry["sha256"] == sha(DATA) and entry["pin"] == "first-download"
    # Upstream changes its bytes; after the local file is lost the new bytes are refused.
    store.Store().view_path(art).unlink()
    store.Store().blob_path(sha(DATA)).unlink()
    http_server.add("/m.pth", DATA[::-1])
    with pytest.raises(ChecksumMismatch):
        store.pull([art.id], progress=False)
    assert store.find(art.id) is None


KILLED_CHILD = """
import sys
from tfk.weights import catalog, store
from tfk.weights.artifact import Artifact
catalog.register_artifacts([Artifact("demo/model", "model.pth", sha256=sys.argv[1], size=int(sys.argv[2]),
                                     sources=(sys.argv[3],))])
store.pull(["demo/model"], progress=False)
"""


def test_killed_download_leaves_nothing_visible(http_server, register):
    import subprocess
    import sys
    import time

    url = http_server.add("/m.pth", DATA)
    http_server.fault("/m.pth", chunk_delay=0.05, times=1)  # about 2 s for the whole body
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, sha(DATA), str(len(DATA)), url], env=os.environ)
    tmp = store.Store().tmp
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parts = list(tmp.glob("*.part-*")) if tmp.exists() else []
        if parts and parts[0].stat().st_size > 0:
            break
        time.sleep(0.02)
    else:
        child.kill()
        pytest.fail("the child never started writing")
    child.kill()  # SIGKILL mid-download: no cleanup code runs
    child.wait()
    (art,) = register(_art(url))
    assert store.find(art.id) is None and store.status(art) == "missing"
    assert len(list(tmp.glob("*.part-*"))) == 1  # the dead process's partial file, never published
    assert store.pull([art.id], progress=False)[art.id] == "downloaded"
    assert store.require(art.id).read_bytes() == DATA
    assert list(tmp.iterdir()) == []  # swept: its owner is dead


def test_disk_filling_up_mid_download_is_diskfull_not_a_network_retry(http_server, register, monkeypatch):
    """ENOSPC while writing: one attempt, DiskFull (75) with a hint about space; after space is freed the
    same pull succeeds (the free-space pre-check passed: the disk filled up during the download)."""
    import errno

    from tfk.weights import download

    url = http_server.add("/m.pth", DATA)
    (art,) = register(_art(url))

    class _FillsUp:
        def __init__(self, fh):
            self.fh, self.n = fh, 0

        def write(self, data):
            self.n += len(data)
            if self.n > 1_000_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    with monkeypatch.context() as m, pytest.raises(DiskFull) as ei:
        m.setattr(download, "open", lambda p, mode="r": _FillsUp(open(p, mode)), raising=False)  # noqa: SIM115
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.TEMPFAIL
    assert "no space left" in ei.value.message and "network" not in ei.value.message
    assert "free some space" in (ei.value.hint or "")
    assert http_server.hits("/m.pth") == 1  # not retried as if the network had failed
    assert _leftovers() == [] and store.find(art.id) is None
    assert store.pull([art.id], progress=False) == {art.id: "downloaded"}
    assert store.status(art) == "verified"
