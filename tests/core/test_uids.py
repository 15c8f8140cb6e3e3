"""``--uid a,b,c``: several subjects for a stage a plugin declares in ``ModelInfo.multi_uid_stages``.

The list is checked once (each name, no empty name, no repeat: exit 2); other stages keep refusing a comma
with a one-line error; the stage gets every subject's workspace (and no single ``ctx.workspace``), each must
exist (exit 66 naming it), and every one is locked while the stage runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tfk.errors import ExitCode, InputNotFound, LockTimeout, UsageError

PLUGIN = textwrap.dedent("""
    from tfk.plugin import ModelInfo, Option, hookimpl

    CALLS = []

    @hookimpl
    def tfk_model():
        return ModelInfo(
            summary="several subjects",
            version="1",
            options={"train": [Option("base", bool, default=False)], "evaluate": []},
            subject_stages=("evaluate",),
            multi_uid_stages={"train": "base"},
        )

    @hookimpl
    def tfk_train(ctx, options):
        from tfk.workspace import lock

        CALLS.append({
            "uids": ctx.uids,
            "workspace": ctx.workspace,
            "roots": [w.root for w in ctx.workspaces],
            "locked": sorted(lock._held),
            "run": ctx.run.dir if ctx.run is not None else None,
        })
        return "trained"

    @hookimpl
    def tfk_evaluate(ctx, options):
        CALLS.append({"uids": ctx.uids})
        return {"psnr": 1.0}
""")


@pytest.fixture
def multi(tmp_path, tfk_home, load_probe_plugin):
    multi_probe = load_probe_plugin("multi", "multi_probe", PLUGIN)

    from tfk.registry import load_registry

    multi_probe.CALLS.clear()
    load_registry(refresh=True)  # this test's fresh module, not an earlier test's
    for uid in ("a", "b", "c"):
        (tfk_home / "subjects" / uid / "multi").mkdir(parents=True)
    return multi_probe


def test_split_uids_checks_every_name():
    from tfk.workspace.workspace import split_uids, uids_label

    assert split_uids("a,b.2,c_3") == ("a", "b.2", "c_3")
    assert split_uids(["a", "b"]) == ("a", "b")
    for bad, why in [("a,,b", "empty"), ("a,", "empty"), (",a", "empty"), ("a,b,a", "'a' is named twice")]:
        with pytest.raises(UsageError, match=why):
            split_uids(bad)
    with pytest.raises(UsageError, match="invalid --uid 'b c'"):  # names the bad item
        split_uids("a,b c")
    assert uids_label(("a", "b")) == "a+b"
    long = [f"subject{i:02d}" for i in range(30)]
    label = uids_label(long)
    assert label.startswith("subject00+29more-") and len(label) < 64
    assert uids_label(long[::-1]) != label  # another list, another directory


def test_several_uids_reach_the_stage_with_every_workspace_locked(multi, tfk_cli, tfk_home):
    res = tfk_cli("train", "multi", "--uid", "a,c,b", "--base", "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    (call,) = multi.CALLS
    roots = [tfk_home / "subjects" / u / "multi" for u in ("a", "c", "b")]
    assert call["uids"] == ("a", "c", "b")  # in the order given
    assert call["workspace"] is None  # no single workspace to write into by accident
    assert call["roots"] == roots
    assert call["locked"] == sorted(str((r / ".lock").resolve()) for r in roots)
    assert call["run"].parent == tfk_home / "runs" / "multi" / "a+c+b"
    from tfk.workspace.lock import _held

    assert not _held  # released after the stage


def test_one_uid_of_a_multi_uid_stage_is_the_plain_single_subject_run(multi, tfk_cli, tfk_home):
    assert tfk_cli("train", "multi", "--uid", "a", "--device", "cpu").exit_code == 0
    assert tfk_cli("train", "multi", "--uid", "b", "--base", "--device", "cpu").exit_code == 0
    first, second = multi.CALLS
    assert first["uids"] == ("a",) and first["workspace"].root == tfk_home / "subjects" / "a" / "multi"
    assert second["uids"] == ("b",) and second["workspace"].uid == "b"
    assert first["locked"] == []  # a single-subject stage locks where it writes, as before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "multi", "--uid", "a,b"], "tfk train multi takes several uids only with --base"),
        (["train", "multi", "--uid", "a,,b", "--base"], "an empty subject name"),
        (["train", "multi", "--uid", "a,b,", "--base"], "an empty subject name"),
        (["train", "multi", "--uid", "a,b,a", "--base"], "'a' is named twice"),
        (["train", "multi", "--uid", "a,b c", "--base"], "invalid --uid 'b c'"),
        (["train", "multi", "--uid", "a,b", "--base", "--workspace", "ws"], "cannot go with several uids"),
        (["evaluate", "multi", "--uid", "a,b"], "tfk evaluate multi takes one --uid, got 'a,b'"),
        (["infer", "echo", "--uid", "a,b", "--video", "x.mp4"], "tfk infer echo takes one --uid, got 'a,b'"),
    ],
)
def test_bad_uid_lists_are_one_line_usage_errors(multi, tfk_cli, args, fragment):
    res = tfk_cli(*args, "--device", "cpu")
    assert res.exit_code == ExitCode.USAGE, res.stderr
    assert fragment in res.stderr and "Traceback" not in res.stderr
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) <= 2  # error + hint
    assert multi.CALLS == []


def test_the_usage_error_says_where_several_uids_are_taken(multi, tfk_cli):
    res = tfk_cli("evaluate", "multi", "--uid", "a,b", "--device", "cpu")
    assert "multi takes several uids in: train" in res.stderr


def test_a_subject_without_a_workspace_is_named(multi, tfk_cli):
    res = tfk_cli("train", "multi", "--uid", "a,nobody,b", "--base", "--device", "cpu")
    assert res.exit_code == ExitCode.NO_INPUT, res.stderr
    assert "subject 'nobody' has no multi workspace" in res.stderr
    assert "tfk preprocess multi INPUT --uid nobody" in res.stderr
    assert multi.CALLS == []


def test_run_stage_takes_a_list_and_checks_it_like_the_cli(multi):
    from tfk.runner import run_stage

    assert run_stage("multi", "train", {"base": True}, uid=["b", "a"], device="cpu") == "trained"
    assert multi.CALLS[-1]["uids"] == ("b", "a")
    with pytest.raises(UsageError, match="only with --base"):
        run_stage("multi", "train", {}, uid="a,b", device="cpu")
    with pytest.raises(UsageError, match="takes one --uid"):
        run_stage("multi", "evaluate", {}, uid=("a", "b"), device="cpu")
    with pytest.raises(InputNotFound, match="'zed'"):
        run_stage("multi", "train", {"base": True}, uid="a,zed", device="cpu")


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tfk.workspace.lock import workspace_lock

    with workspace_lock(sys.argv[1], "subject 'b'"):
        Path(sys.argv[2]).write_text("held")
        time.sleep(60)
""")


def test_a_subject_in_use_elsewhere_makes_the_run_wait_then_give_up(multi, tfk_home, tmp_path, monkeypatch):
    from tfk.runner import run_stage

    marker = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tfk_home / "subjects" / "b" / "multi"), str(marker)], env=os.environ
    )
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None and time.time() < deadline, "the holder did not start"
            time.sleep(0.05)
        monkeypatch.setenv("TFK_LOCK_TIMEOUT", "0.2")
        with pytest.raises(LockTimeout, match="subject 'b'"):
            run_stage("multi", "train", {"base": True}, uid="a,b", device="cpu")
    finally:
        proc.kill()
        proc.wait()
    assert multi.CALLS == []
    from tfk.workspace.lock import _held

    assert not _held  # the lock of 'a' was released again
