"""``tfk batch preprocess`` on the local pool with the echo fixture plugin: real child processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tfk.batch.job import done_stamps
from tfk.errors import ExitCode


def _batch(tfk_cli, jobs: Path, *args: str):
    return tfk_cli("--progress", "plain", "batch", "preprocess", "echo", str(jobs), "--retry-delay", "0", *args)


def test_weights_are_pulled_once_before_fan_out_and_a_failure_starts_no_job(
    tfk_cli, short_clip, make_jobs, tfk_home, monkeypatch
):
    monkeypatch.setenv("TFK_OFFLINE", "1")  # echo/model is missing and may not be fetched
    jobs = make_jobs([{"input": short_clip, "uid": "a"}, {"input": short_clip, "uid": "b"}])
    res = _batch(tfk_cli, jobs)
    assert res.exit_code == ExitCode.UNAVAILABLE
    assert "echo/model" in res.stderr and "started" not in res.stderr
    assert not list(tfk_home.glob("subjects/*"))


def test_unknown_option_column_is_a_usage_error_before_anything_runs(tfk_cli, short_clip, make_jobs, tfk_home):
    jobs = make_jobs([{"input": short_clip, "uid": "a", "options": {"chunks": 3}}])
    res = _batch(tfk_cli, jobs)
    assert res.exit_code == ExitCode.USAGE
    assert "unknown option 'chunks'" in res.stderr and "chunk" in res.stderr.split("hint:")[1]
    assert not list(tfk_home.glob("subjects/*"))


@pytest.mark.slow
def test_pool_of_two_corrupt_clip_fails_fast_and_rerun_is_all_cached(
    tfk_cli, short_clip, corrupt_clip, echo_mirror, make_jobs, batch_status, tfk_home, tmp_path
):
    rows = [
        {"input": short_clip, "uid": "a"},
        {"input": short_clip, "uid": "b", "options": {"chunk": 10}},
        {"input": corrupt_clip, "uid": "bad"},
        {"input": short_clip, "uid": "c"},
    ]
    jobs = make_jobs(rows)
    res = _batch(tfk_cli, jobs, "--max-parallel", "2")
    assert res.exit_code == ExitCode.BAD_INPUT, res.stderr
    assert max(int(n) for n in re.findall(r"(\d+) running", res.stderr)) == 2  # bounded pool, and it was used
    assert list(tfk_home.rglob("echo-model.bin"))  # pulled by the batch before fan-out (echo preprocess needs none)
    st = batch_status(jobs)
    assert {u: r["state"] for u, r in st.items()} == {"a": "done", "b": "done", "bad": "failed", "c": "done"}
    assert st["bad"]["exit_code"] == 65 and st["bad"]["attempts"] == 1  # never retried
    assert "corrupt.mp4" in st["bad"]["reason"] and "cannot be read" in st["bad"]["reason"]
    ws_b = tfk_home / "subjects" / "b" / "echo"
    assert json.loads((ws_b / "steps" / "summary" / "summary.json").read_text())["frames"] == 25
    assert len(list((ws_b / "steps" / "frame_stats").glob("chunk_*.json"))) == 3  # its own chunk=10
    summary = json.loads(Path(res.stdout.strip()).read_text())
    assert summary["counts"] == {"done": 3, "failed": 1, "running": 0, "pending": 0}
    row = {r["uid"]: r for r in summary["jobs"]}["a"]
    assert row["exit_code"] == 0 and row["duration"] > 0 and row["workspace"] == str(tfk_home / "subjects/a/echo")
    assert "preprocess echo" in Path(row["log"]).read_text()
    assert json.loads(Path(row["log"]).parent.parent.joinpath("a.json").read_text())["runner_pid"] == os.getpid()

    stamps = {u: done_stamps(tfk_home / "subjects" / u / "echo") for u in "abc"}
    again = _batch(tfk_cli, jobs, "--max-parallel", "2")
    assert again.exit_code == ExitCode.BAD_INPUT
    assert sorted(re.findall(r"done (\w+) \(cached", again.stderr)) == ["a", "b", "c"]
    assert {u: done_stamps(tfk_home / "subjects" / u / "echo") for u in "abc"} == stamps

    # with fresh batch records the jobs do run again, and the step cache alone makes them no-ops
    other = make_jobs(rows[:2], name="same.jsonl")
    res = _batch(tfk_cli, other, "--max-parallel", "2")
    assert res.exit_code == 0, res.stderr
    assert sorted(re.findall(r"started (\w+)", res.stderr)) == ["a", "b"]
    assert sorted(re.findall(r"done (\w+) \(cached", res.stderr)) == ["a", "b"]
    assert {u: done_stamps(tfk_home / "subjects" / u / "echo") for u in "ab"} == {u: stamps[u] for u in "ab"}


@pytest.mark.slow
def test_retries_follow_the_exit_codes(tfk_cli, short_clip, echo_mirror, make_jobs, batch_status):
    jobs = make_jobs(
        [
            {"input": short_clip, "uid": "flaky", "options": {"fail_code": 75, "fail_times": 1}},
            {"input": short_clip, "uid": "crash", "options": {"fail_code": 70}},
            {"input": short_clip, "uid": "config", "options": {"fail_code": 78}},
            {"input": short_clip, "uid": "killed", "options": {"fail_code": -9, "fail_times": 1}},
        ]
    )
    res = _batch(tfk_cli, jobs, "--max-parallel", "2")
    assert res.exit_code == 70, res.stderr  # the first failed job in file order
    st = batch_status(jobs)
    got = {u: (r["state"], r["exit_code"], r["attempts"]) for u, r in st.items()}
    assert got == {
        "flaky": ("done", 0, 2),  # 75 retried
        "crash": ("failed", 70, 2),  # 70 retried once
        "config": ("failed", 78, 1),  # 78 never
        "killed": ("done", 0, 2),  # a signal retried
    }
    assert "retrying flaky" in res.stderr and "retrying killed in 0s (exit -9 (SIGKILL))" in res.stderr


@pytest.mark.slow
def test_killing_the_batch_then_rerunning_finishes_only_what_is_left(
    tfk_cli, short_clip, echo_mirror, make_jobs, batch_status, tfk_home
):
    slow = {"chunk": 5, "delay": 1.0}
    jobs = make_jobs(
        [
            {"input": short_clip, "uid": "a"},
            {"input": short_clip, "uid": "b", "options": slow},
            {"input": short_clip, "uid": "c", "options": slow},
        ]
    )
    cmd = [sys.executable, "-m", "tfk.cli.main", "batch", "preprocess", "echo", str(jobs), "--max-parallel", "2"]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial_b = tfk_home / "subjects" / "b" / "echo" / "steps" / "frame_stats.partial"
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            st = batch_status(jobs)
            if st["a"]["state"] == "done" and list(partial_b.glob("chunk_*.json")):
                assert st["b"]["state"] == "running" and st["b"]["attempts"] == 1
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        kept = {p.name: p.stat().st_mtime_ns for p in partial_b.glob("chunk_*.json")}
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"batch interrupted" in err
    st = batch_status(jobs)
    assert st["a"]["state"] == "done"
    assert st["b"]["state"] == "pending" and st["b"]["reason"] == "interrupted"
    assert st["b"]["exit_code"] == ExitCode.INTERRUPTED  # the job was told to stop and did, cleanly
    assert st["c"]["state"] == "pending"

    res = _batch(tfk_cli, jobs, "--max-parallel", "2")
    assert res.exit_code == 0, res.stderr
    assert "started a" not in res.stderr and "done a (cached" in res.stderr  # not launched again
    assert Path(st["a"]["log"]).read_text().count("=== ") == 1
    final = tfk_home / "subjects" / "b" / "echo" / "steps" / "frame_stats"
    assert {n: (final / n).stat().st_mtime_ns for n in kept} == kept  # b's finished chunks were kept, not redone
    assert {u: r["state"] for u, r in batch_status(jobs).items()} == {"a": "done", "b": "done", "c": "done"}


def test_a_shard_runs_only_its_slice(tfk_cli, short_clip, corrupt_clip, echo_mirror, make_jobs, batch_status):
    rows = [{"input": short_clip, "uid": f"j{i}"} for i in range(4)]
    rows[1] = {"input": corrupt_clip, "uid": "j1"}  # the one job of shard 1/3 here: fails fast, cheap
    jobs = make_jobs(rows)
    res = _batch(tfk_cli, jobs, "--shard", "1/3")
    assert res.exit_code == ExitCode.BAD_INPUT
    assert re.findall(r"started (\w+)", res.stderr) == ["j1"]
    st = batch_status(jobs)
    assert {u: r["state"] for u, r in st.items()} == {"j0": "pending", "j1": "failed", "j2": "pending", "j3": "pending"}
