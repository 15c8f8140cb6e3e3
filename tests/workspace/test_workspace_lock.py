"""Two runs on one subject at once: the second waits for the first (naming it) or fails with exit 75."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from tfk import errors
from tfk.workspace import Pipeline, Step, Workspace

# The holder: the same one-step pipeline, whose step takes a while (a long preprocess run).
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tfk.workspace import Pipeline, Step, Workspace

    root, marker, hold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])

    def slow(sc):
        (sc.out / "clip.json").write_text('{"status": "ok"}')
        marker.write_text("started")
        time.sleep(hold)

    ws = Workspace.for_subject("m", "alice", root)
    Pipeline(ws, [Step("dataset", slow, params={"n": 1})]).run()
    """
)


def _start_holder(tmp_path, hold: float) -> subprocess.Popen:
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "ws"), str(marker), str(hold)],
        env=os.environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "the holder did not start"
        time.sleep(0.05)
    return proc


def _pipeline(tmp_path, calls):
    def step(sc):
        calls.append("ran")
        (sc.out / "clip.json").write_text('{"status": "failed", "error": "raced"}')

    ws = Workspace.for_subject("m", "alice", tmp_path / "ws")
    return ws, Pipeline(ws, [Step("dataset", step, params={"n": 1})])


def test_second_run_times_out_with_exit_75_naming_the_holder(tmp_path, monkeypatch, capfd):
    proc = _start_holder(tmp_path, hold=8)
    try:
        monkeypatch.setenv("TFK_LOCK_TIMEOUT", "0.5")
        calls: list[str] = []
        ws, pipe = _pipeline(tmp_path, calls)
        with pytest.raises(errors.LockTimeout) as err:
            pipe.run()
        assert err.value.exit_code == errors.ExitCode.TEMPFAIL == 75
        assert f"pid {proc.pid}" in err.value.message and "alice" in err.value.message
        assert "TFK_LOCK_TIMEOUT" in (err.value.hint or "")
        assert f"waiting for pid {proc.pid}" in capfd.readouterr().err
        assert calls == []  # nothing ran, nothing recorded
    finally:
        proc.kill()
        proc.wait()
    # the holder was killed (-9) mid-step: its lock died with it, and the step was never published
    assert not (ws.step_dir("dataset") / ".done.json").exists()
    calls.clear()
    pipe.run()
    assert calls == ["ran"]


def test_second_run_waits_then_finds_the_work_done(tmp_path, monkeypatch, capfd):
    proc = _start_holder(tmp_path, hold=1.5)
    try:
        monkeypatch.setenv("TFK_LOCK_TIMEOUT", "60")
        calls: list[str] = []
        ws, pipe = _pipeline(tmp_path, calls)
        res = pipe.run()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert f"waiting for pid {proc.pid}" in capfd.readouterr().err
    assert calls == [] and [r.state for r in res] == ["cached"]  # the holder's result, not a raced copy
    assert (ws.step_dir("dataset") / "clip.json").read_text() == '{"status": "ok"}'


def test_lock_is_reentrant_in_one_process(tmp_path):
    from tfk.workspace.lock import workspace_lock

    calls: list[str] = []
    ws, pipe = _pipeline(tmp_path, calls)
    with workspace_lock(ws.root, "subject 'alice'", timeout=0.1):
        pipe.run()
    assert calls == ["ran"]
