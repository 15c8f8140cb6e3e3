"""``tfk train MODEL --nnodes/--node-rank/--master-addr/--nproc-per-node``: the torchrun launcher (CPU, gloo)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tfk.distributed import Launch, check, needs_launch, pop_launch, torchrun_argv, worker_args
from tfk.errors import ExitCode, UsageError

FAKES = Path(__file__).resolve().parents[1] / "fakes"


@pytest.fixture
def ddp_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fake DDP plugin on, for this process and its children; no torchrun variables inherited."""
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.setenv("TFK_PLUGIN_MODULES", "ddpfake=ddp_plugin")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")]))
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return dict(os.environ)


def _command():
    from tfk.cli.stages import ModelCommand
    from tfk.registry import load_registry

    return ModelCommand("train", "ddpfake", load_registry().get("ddpfake").info)


def test_worker_command_line_round_trips_through_click(ddp_env, tmp_path):
    cmd = _command()
    argv = ["--uid", "s", "--out", str(tmp_path), "--steps", "4", "--nnodes", "2", "--node-rank", "1"]
    argv += ["--master-addr", "10.0.0.1", "--master-port", "29999", "--nproc-per-node", "2"]
    values = dict(cmd.make_context("ddpfake", list(argv)).params)
    spec = pop_launch(values, own := {o.dest for o in cmd_info().options_for("train")})
    assert spec == Launch(nnodes=2, node_rank=1, master_addr="10.0.0.1", master_port=29999, nproc_per_node=2)
    assert needs_launch(spec, own) and spec.world_size == 4
    worker = worker_args(cmd, values)
    assert "--nnodes" not in worker and "--master-addr" not in worker
    again = dict(cmd.make_context("ddpfake", list(worker)).params)
    assert {k: again[k] for k in values} == values  # workers see the same options as the user typed
    run = torchrun_argv(spec, ["train", "ddpfake", *worker])
    assert run[: run.index("--module")] == [
        "--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "2", "--max-restarts", "0",
        "--master-addr", "10.0.0.1", "--master-port", "29999",
    ]  # fmt: skip
    assert run[run.index("--module") + 1 :][:3] == ["tfk.cli.main", "train", "ddpfake"]


def cmd_info():
    from tfk.registry import load_registry

    return load_registry().get("ddpfake").info


def test_launch_rules(monkeypatch):
    from tfk.plugin import ModelInfo

    assert not needs_launch(Launch(), set())
    assert needs_launch(Launch(nproc_per_node=2), set())
    assert not needs_launch(Launch(nproc_per_node=2), {"nproc_per_node"})  # LawDNet spawns its own processes
    assert needs_launch(Launch(nnodes=2, master_addr="h"), {"nproc_per_node"})
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert not needs_launch(Launch(nnodes=2, master_addr="h"), set())  # already a torchrun worker
    single = ModelInfo(summary="x", version="1")
    with pytest.raises(UsageError, match="trains in one process"):
        check("x", single, Launch(nproc_per_node=2))
    check("x", single, Launch())
    ddp = ModelInfo(summary="x", version="1", supports_ddp=True)
    with pytest.raises(UsageError, match="--master-addr"):
        check("x", ddp, Launch(nnodes=2))
    with pytest.raises(UsageError, match="--node-rank 2 must be below --nnodes 2"):
        check("x", ddp, Launch(nnodes=2, node_rank=2, master_addr="h"))


def test_cli_usage_errors_are_one_line(ddp_env, tfk_cli, tmp_path):
    res = tfk_cli("train", "ddpfake", "--uid", "s", "--out", str(tmp_path), "--nnodes", "2")
    assert res.exit_code == ExitCode.USAGE and res.stderr.startswith("error: --nnodes above 1 needs --master-addr")


def _tfk(*args: str) -> list[str]:
    return [sys.executable, "-m", "tfk.cli.main", "--progress", "none", "train", "ddpfake", "--device", "cpu", *args]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def single_process_result(ddp_env, tmp_path) -> dict:
    import ddp_plugin

    ddp_plugin.train(tmp_path / "single", steps=6)
    return ddp_plugin.result(tmp_path / "single")


def _same_weights(a: dict, b: dict) -> None:
    assert a["weight"] == pytest.approx(b["weight"], abs=1e-6) and a["bias"] == pytest.approx(b["bias"], abs=1e-6)


@pytest.mark.slow
def test_two_processes_on_one_node_match_one_process_and_resume(ddp_env, single_process_result, tmp_path):
    import ddp_plugin

    out = tmp_path / "ddp"
    args = _tfk("--uid", "s", "--out", str(out), "--nnodes", "1", "--nproc-per-node", "2", "--stop-after", "3")
    first = subprocess.run(args, env=ddp_env, capture_output=True, text=True, timeout=240)
    assert first.returncode == ExitCode.INTERRUPTED, first.stderr
    assert "error: distributed training interrupted" in first.stderr
    assert "fake training" not in first.stderr  # --progress none reached the workers
    assert (out / "checkpoint.pt").is_file() and not (out / "result.json").exists()
    second = subprocess.run(args, env=ddp_env, capture_output=True, text=True, timeout=240)  # the same command
    assert second.returncode == 0, second.stderr
    got = ddp_plugin.result(out)
    assert got["world"] == 2 and got["ranks"] == [0, 1] and got["resumed_from"] == 3
    _same_weights(got, single_process_result)


@pytest.mark.slow
def test_two_nodes_on_loopback(ddp_env, single_process_result, tmp_path):
    import ddp_plugin

    out = tmp_path / "nodes"
    master = ("--master-addr", "127.0.0.1", "--master-port", str(_free_port()))
    procs = [
        subprocess.Popen(
            _tfk("--uid", "s", "--out", str(out), "--nnodes", "2", "--node-rank", str(rank), *master),
            env=ddp_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    got = ddp_plugin.result(out)
    assert got["world"] == 2 and got["ranks"] == [0, 1] and got["resumed_from"] == 0
    _same_weights(got, single_process_result)


@pytest.mark.slow
def test_a_failing_worker_exit_code_becomes_the_commands(ddp_env, tmp_path):
    bad = tmp_path / "file"
    bad.write_text("not a directory")  # the checkpoint directory cannot be created
    args = _tfk("--uid", "s", "--out", str(bad / "sub"), "--nproc-per-node", "2")
    res = subprocess.run(args, env=ddp_env, capture_output=True, text=True, timeout=240)
    assert res.returncode == ExitCode.PLUGIN_CRASH, res.stderr
    assert "error: training worker rank" in res.stderr and "exit code 70" in res.stderr


def _gloo_worker(rank: int, world: int, port: int, out: str, fail: bool) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        if fail:  # no collective after the failure: rank 0 returns, rank 1 raises
            if rank == 1:
                raise ValueError("worker 1 failed on purpose")
            return
        t = torch.tensor([rank + 1.0])
        dist.all_reduce(t)
        Path(out, f"rank{rank}.txt").write_text(str(t.item()))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_spawn_local_runs_the_workers_and_reports_a_failure(tmp_path):
    """Two local gloo workers: their results land and the call returns; a raising worker reaches the caller."""
    import torch.multiprocessing as mp

    from tfk.distributed import free_port, spawn_local

    spawn_local(_gloo_worker, 2, (2, free_port(), str(tmp_path), False))
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["3.0", "3.0"]
    with pytest.raises(mp.ProcessRaisedException, match="worker 1 failed on purpose"):
        spawn_local(_gloo_worker, 2, (2, free_port(), str(tmp_path / "x"), True))
