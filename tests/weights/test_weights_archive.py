"""Safe archive extraction, and archive artifacts (the DeepSpeech v0.1.0 tar.gz case)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tfk.errors import BadInput, ExitCode, InvalidArtifact
from tfk.weights import store
from tfk.weights.archive import check_archive, extract_all, extract_member
from tfk.weights.artifact import Artifact


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


GRAPH = os.urandom(200_000)


def _tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for e in entries:
            if isinstance(e, tuple):
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
            else:
                tf.addfile(e)
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _deepspeech_tar(tmp_path: Path) -> Path:
    return _tar(
        tmp_path / "deepspeech-0.1.0-models.tar.gz",
        [
            ("models/output_graph.pb", GRAPH),
            ("models/alphabet.txt", b"a\nb\n"),
            _link("models/latest", "output_graph.pb"),
        ],
    )


@pytest.mark.parametrize(
    "bad, why",
    [
        (("../evil", b"x"), "escapes"),
        (("models/../../evil", b"x"), "escapes"),
        (("/etc/evil", b"x"), "absolute"),
        (_link("models/out", "/etc/passwd"), "absolute"),
        (_link("models/out", "../../outside"), "outside"),
        (_link("models/hard", "../outside", tarfile.LNKTYPE), "escapes"),
    ],
)
def test_malicious_tar_is_refused(tmp_path, bad, why):
    ar = _tar(tmp_path / "evil.tar.gz", [("models/output_graph.pb", GRAPH), bad])
    dest = tmp_path / "out" / "graph.pb"
    dest.parent.mkdir()
    with pytest.raises(InvalidArtifact, match=why) as ei:
        extract_member(ar, "models/output_graph.pb", dest)
    assert ei.value.exit_code == ExitCode.BAD_INPUT
    assert not dest.exists()
    with pytest.raises(InvalidArtifact):
        extract_all(ar, tmp_path / "all")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_device_file_is_refused(tmp_path):
    dev = tarfile.TarInfo("models/null")
    dev.type = tarfile.CHRTYPE
    ar = _tar(tmp_path / "dev.tar", [("models/output_graph.pb", GRAPH), dev], mode="w")
    with pytest.raises(InvalidArtifact, match="device"):
        check_archive(ar)


def test_zip_with_escape_is_refused_and_good_zip_extracts(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("models/output_graph.pb", GRAPH)
        zf.writestr("../../evil.txt", b"x")
    with pytest.raises(InvalidArtifact, match="escapes"):
        extract_member(evil, "models/output_graph.pb", tmp_path / "g.pb")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("./models/output_graph.pb", GRAPH)
    extract_member(good, "models/output_graph.pb", tmp_path / "g.pb")
    assert (tmp_path / "g.pb").read_bytes() == GRAPH


def test_extract_member_and_links_inside_archive(tmp_path):
    ar = _deepspeech_tar(tmp_path)
    extract_member(ar, "./models/output_graph.pb", tmp_path / "a.pb")
    assert (tmp_path / "a.pb").read_bytes() == GRAPH
    extract_member(ar, "models/latest", tmp_path / "b.pb")  # a link inside the archive is followed
    assert (tmp_path / "b.pb").read_bytes() == GRAPH
    with pytest.raises(InvalidArtifact, match=r"no file 'models/missing\.pb'"):
        extract_member(ar, "models/missing.pb", tmp_path / "c.pb")
    files = extract_all(ar, tmp_path / "all")
    assert sorted(p.name for p in files) == ["alphabet.txt", "output_graph.pb"]
    assert not (tmp_path / "all" / "models" / "latest").exists()


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"plain bytes")
    with pytest.raises(InvalidArtifact, match="not a tar or zip"):
        check_archive(p)


def _ds_artifact(url: str, archive: Path, *, pinned_member: bool) -> Artifact:
    return Artifact(
        "shared/demo_deepspeech",
        "output_graph.pb",
        sha256=sha(GRAPH) if pinned_member else None,
        size=len(GRAPH),
        sources=(url,),
        kind="archive",
        member="models/output_graph.pb",
        archive_sha256=sha(archive.read_bytes()),
        archive_size=archive.stat().st_size,
    )


def test_pull_archive_artifact_extracts_member(tmp_path, http_server, register):
    ar = _deepspeech_tar(tmp_path)
    url = http_server.add("/deepspeech-0.1.0-models.tar.gz", ar.read_bytes())
    (art,) = register(_ds_artifact(url, ar, pinned_member=False))
    path = store.require(art.id, progress=False)
    assert path.name == "output_graph.pb" and path.read_bytes() == GRAPH
    assert store.Store().entry(art.id)["sha256"] == sha(GRAPH)  # the member's hash is recorded
    assert store.verify([art.id]) == {art.id: "verified"}
    assert list(store.Store().tmp.iterdir()) == []  # the archive is not kept


def test_pull_malicious_archive_artifact_fails_cleanly(tmp_path, http_server, register):
    ar = _tar(tmp_path / "evil.tar.gz", [("models/output_graph.pb", GRAPH), ("../evil", b"x")])
    url = http_server.add("/evil.tar.gz", ar.read_bytes())
    (art,) = register(_ds_artifact(url, ar, pinned_member=True))
    with pytest.raises(BadInput, match="unsafe") as ei:  # every source served a bad file
        store.pull([art.id], progress=False)
    assert ei.value.exit_code == ExitCode.BAD_INPUT
    assert store.find(art.id) is None
    assert list(store.Store().tmp.iterdir()) == []


def test_import_archive_for_archive_artifact(tmp_path, register):
    ar = _deepspeech_tar(tmp_path)
    (art,) = register(_ds_artifact("https://example.invalid/x.tar.gz", ar, pinned_member=True))
    path = store.import_file(art.id, ar)
    assert path.read_bytes() == GRAPH
    assert store.status(art) == "verified"
