"""Resumable step pipelines: fingerprints, staleness, --force/--from/--until, interruption."""

from __future__ import annotations

import json

import pytest

from tfk import errors
from tfk.workspace import Pipeline, Step, Workspace


@pytest.fixture
def ws(tmp_path):
    return Workspace.for_subject("m", "alice", tmp_path / "ws")


def _make(ws, src, calls, scale=2, interrupt_in=None):
    def read(sc):
        calls.append("read")
        (sc.out / "data.txt").write_text(src.read_text())

    def double(sc):
        calls.append("double")
        if interrupt_in == "double":
            (sc.out / "half.txt").write_text("partial")
            raise KeyboardInterrupt
        n = int((sc.step_dir("read") / "data.txt").read_text())
        (sc.out / "out.txt").write_text(str(n * sc.params["scale"]))

    def report(sc):
        calls.append("report")
        (sc.out / "report.json").write_text(json.dumps({"v": (sc.step_dir("double") / "out.txt").read_text()}))

    return Pipeline(
        ws,
        [
            Step("read", read, inputs=[src]),
            Step("double", double, params={"scale": scale}),
            Step("report", report),
        ],
    )


def test_runs_then_skips_fresh_steps(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("21")
    calls: list[str] = []
    _make(ws, src, calls).run()
    assert calls == ["read", "double", "report"]
    assert (ws.step_dir("double") / "out.txt").read_text() == "42"
    calls.clear()
    res = _make(ws, src, calls).run()
    assert calls == [] and [r.state for r in res] == ["cached"] * 3


def test_param_change_redoes_that_step_and_downstream(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("21")
    _make(ws, src, []).run()
    st = {s.name: s for s in _make(ws, src, [], scale=3).status()}
    assert st["read"].state == "done"
    assert st["double"].state == "stale" and "scale 2 -> 3" in st["double"].reason
    assert st["report"].state == "stale" and "upstream" in st["report"].reason
    calls: list[str] = []
    _make(ws, src, calls, scale=3).run()
    assert calls == ["double", "report"]
    assert (ws.step_dir("double") / "out.txt").read_text() == "63"


def test_input_change_is_detected(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("21")
    _make(ws, src, []).run()
    src.write_text("5")
    st = {s.name: s for s in _make(ws, src, []).status()}
    assert st["read"].state == "stale" and "input changed" in st["read"].reason
    calls: list[str] = []
    _make(ws, src, calls).run()
    assert calls == ["read", "double", "report"]
    assert (ws.step_dir("double") / "out.txt").read_text() == "10"


def test_force_from_until(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("1")
    calls: list[str] = []
    _make(ws, src, calls).run(until_step="double")
    assert calls == ["read", "double"] and not ws.step_dir("report").exists()
    calls.clear()
    _make(ws, src, calls).run(from_step="double")
    assert calls == ["double", "report"]
    calls.clear()
    _make(ws, src, calls).run(force=True)
    assert calls == ["read", "double", "report"]
    with pytest.raises(errors.UsageError, match="unknown step"):
        _make(ws, src, calls).run(from_step="nope")


def test_interruption_leaves_nothing_half_written_and_resumes(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("4")
    calls: list[str] = []
    with pytest.raises(errors.Interrupted, match="step 'double'"):
        _make(ws, src, calls, interrupt_in="double").run()
    assert (ws.step_dir("read") / ".done.json").exists()
    assert not ws.step_dir("double").exists()
    assert not [p for p in ws.steps_dir.iterdir() if "tmp" in p.name]
    st = {s.name: s.state for s in _make(ws, src, []).status()}
    assert st == {"read": "done", "double": "missing", "report": "missing"}
    calls.clear()
    _make(ws, src, calls).run()
    assert calls == ["double", "report"]


def test_resumable_step_keeps_partial_work(ws):
    seen: list[int] = []

    def chunks(sc):
        for i in range(4):
            f = sc.out / f"{i}.txt"
            if f.exists():
                continue
            seen.append(i)
            f.write_text(str(i))
            if i == 1 and sc.params.get("stop") and not (sc.out / "stopped").exists():
                (sc.out / "stopped").write_text("")
                raise KeyboardInterrupt

    p = Pipeline(ws, [Step("chunks", chunks, params={"stop": True}, resumable=True)])
    with pytest.raises(errors.Interrupted):
        p.run()
    assert seen == [0, 1]
    p.run()
    assert seen == [0, 1, 2, 3]
    assert sorted(f.name for f in ws.step_dir("chunks").glob("*.txt")) == ["0.txt", "1.txt", "2.txt", "3.txt"]
    assert not (ws.steps_dir / "chunks.partial").exists()


def test_uid_is_validated(tmp_path):
    with pytest.raises(errors.UsageError, match="invalid --uid"):
        Workspace.for_subject("m", "../escape", None)


def test_rerunning_an_upstream_step_makes_downstream_stale(ws, tmp_path):
    src = tmp_path / "n.txt"
    src.write_text("3")
    _make(ws, src, []).run()
    calls: list[str] = []
    _make(ws, src, calls).run(from_step="read", until_step="read")
    assert calls == ["read"]
    st = {s.name: s for s in _make(ws, src, []).status()}
    assert st["double"].state == "stale" and "upstream step 'read' changed" in st["double"].reason
    calls.clear()
    _make(ws, src, calls).run()
    assert calls == ["double", "report"]


def test_a_step_that_completes_without_its_outputs_shows_as_skipped_with_why(ws):
    """``sc.info["skipped"]`` (e.g. missing weights): ``tfk status`` must not call the step done."""

    def needs_weights(sc):
        sc.info["skipped"] = "weights not in the store (tfk weights pull x/y)"

    def after(sc):
        (sc.out / "ok.txt").write_text("ok")

    pipe = Pipeline(ws, [Step("features", needs_weights), Step("after", after)])
    pipe.run()
    st = {s.name: (s.state, s.reason) for s in pipe.status()}
    assert st["features"] == ("skipped", "weights not in the store (tfk weights pull x/y)")
    assert st["after"][0] == "done"
