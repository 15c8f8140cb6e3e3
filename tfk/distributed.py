"""Multi-node training: ``tfk train MODEL --nnodes N --node-rank R --master-addr HOST`` launches torchrun.

Every ``tfk train MODEL`` command takes torchrun's options (``--nnodes``, ``--node-rank``, ``--master-addr``,
``--master-port``, ``--nproc-per-node``). When they ask for more than one process, the command does not
train itself: it runs torchrun (``torch.distributed.run``, static rendezvous at the master address, no
elastic restarts) with ``tfk train MODEL <the same options>`` as the worker command, so each of the
``nnodes x nproc_per_node`` workers is the ordinary train stage with ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. The plugin initialises its process group from
that environment and keeps its own checkpoint and resume rules (the output directory must be one that
every node sees, as with any torchrun job). A worker's exit code becomes the command's (130 after an
interrupt: run the same command on every node to resume).

Running ``tfk train`` under a torchrun of your own works too: inside torchrun the options are ignored.
Plugins whose :class:`tfk.plugin.ModelInfo` does not set ``supports_ddp`` train in one process and refuse
a world size above one. A plugin that declares its own ``nproc_per_node`` option (LawDNet spawns its
local processes itself) keeps it on one node; torchrun takes over when ``--nnodes`` is above one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tfk import errors

LAUNCH_DESTS = ("nnodes", "node_rank", "master_addr", "master_port", "nproc_per_node")
TORCHRUN_ENV = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK")


@dataclass(frozen=True)
class Launch:
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None
    nproc_per_node: int = 1

    @property
    def world_size(self) -> int:
        return self.nnodes * self.nproc_per_node


def launch_params(existing: set[str]) -> list[Any]:
    """The click options of the launcher, minus any the plugin declares itself (e.g. ``nproc_per_node``)."""
    import click

    specs = [
        ("nnodes", "--nnodes", click.IntRange(min=1), 1, "Nodes taking part (torchrun)."),
        ("node_rank", "--node-rank", click.IntRange(min=0), 0, "This node's rank, 0 .. nnodes-1."),
        ("master_addr", "--master-addr", click.STRING, None, "Address of the rank-0 node."),
        ("master_port", "--master-port", click.IntRange(1, 65535), None, "Port on the rank-0 node [29500]."),
        ("nproc_per_node", "--nproc-per-node", click.IntRange(min=1), 1, "Processes (GPUs) on this node."),
    ]
    return [
        click.Option([flag, dest], type=t, default=d, help=h, show_default=d is not None)
        for dest, flag, t, d, h in specs
        if dest not in existing
    ]


def under_torchrun() -> bool:
    return any(v in os.environ for v in TORCHRUN_ENV)


def pop_launch(values: dict[str, Any], plugin_options: set[str]) -> Launch:
    """Take the launcher's values out of ``values`` (leaving the ones the plugin declared as its own)."""
    got = {d: (values.get(d) if d in plugin_options else values.pop(d, None)) for d in LAUNCH_DESTS}
    return Launch(
        nnodes=int(got["nnodes"] or 1),
        node_rank=int(got["node_rank"] or 0),
        master_addr=got["master_addr"],
        master_port=got["master_port"],
        nproc_per_node=int(got["nproc_per_node"] or 1),
    )


def needs_launch(spec: Launch, plugin_options: set[str]) -> bool:
    """True when this command must start torchrun instead of training in this process."""
    if under_torchrun():
        return False
    return spec.nnodes > 1 or (spec.nproc_per_node > 1 and "nproc_per_node" not in plugin_options)


def check(model: str, info: Any, spec: Launch) -> None:
    if spec.node_rank >= spec.nnodes:
        raise errors.UsageError(f"--node-rank {spec.node_rank} must be below --nnodes {spec.nnodes}")
    if spec.nnodes > 1 and not spec.master_addr:
        raise errors.UsageError("--nnodes above 1 needs --master-addr (the host of node rank 0)")
    if spec.world_size > 1 and not getattr(info, "supports_ddp", False):
        raise errors.UsageError(
            f"{model} trains in one process: it does not support --nnodes/--nproc-per-node above 1",
            hint=f"tfk train {model} without --nnodes/--nproc-per-node",
        )


def worker_args(command: Any, values: dict[str, Any]) -> list[str]:
    """``values`` (as click parsed them for ``command``) back into a command line for the workers."""
    opts: list[str] = []
    args: list[str] = []
    for param in command.params:
        if param.name not in values:
            continue
        value = values[param.name]
        if value is None or value == ():
            continue
        if param.param_type_name == "argument":
            args += [str(v) for v in value] if isinstance(value, tuple | list) else [str(value)]
            continue
        flag = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        if getattr(param, "is_flag", False):
            if value:
                opts.append(flag)
            elif param.secondary_opts:
                opts.append(param.secondary_opts[0])
            continue
        for v in value if param.multiple else [value]:
            opts += [flag, str(v)]
    return [*opts, *(["--", *args] if args else [])]


def torchrun_argv(spec: Launch, worker: list[str]) -> list[str]:
    """torchrun's command line for ``python -m tfk.cli.main <worker>`` on this node."""
    argv = ["--nnodes", str(spec.nnodes), "--node-rank", str(spec.node_rank)]
    argv += ["--nproc-per-node", str(spec.nproc_per_node), "--max-restarts", "0"]
    if spec.master_addr:
        argv += ["--master-addr", spec.master_addr]
    if spec.master_port:
        argv += ["--master-port", str(spec.master_port)]
    return [*argv, "--module", "tfk.cli.main", *worker]


class WorkerFailed(errors.TfkError):
    """A torchrun worker ended with a non-zero exit code; it becomes this command's."""

    def __init__(self, message: str, code: int, hint: str | None = None):
        super().__init__(message, hint)
        self.exit_code = code  # type: ignore[assignment]


def run_torchrun(argv: list[str], spec: Launch) -> None:
    """Run torchrun in this process; a failed worker raises with that worker's exit code."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(argv))
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = int(failure.exitcode)
        code = 128 - code if code < 0 else code
        if code in (errors.ExitCode.INTERRUPTED, errors.ExitCode.TERMINATED):
            raise errors.Interrupted(
                "distributed training interrupted; the workers saved their checkpoint",
                hint="run the same command again on every node to resume",
            ) from None
        raise WorkerFailed(
            f"training worker rank {rank} (node {spec.node_rank}) failed with exit code {code}; see its error above",
            code=code,
        ) from None
    except SignalException as exc:
        raise errors.Interrupted(
            f"distributed training stopped by {exc.sigval.name}",
            hint="run the same command again on every node to resume",
        ) from None


def maybe_launch(command: Any, model: str, values: dict[str, Any]) -> bool:
    """Called by ``tfk train MODEL``: pop the launcher options; run torchrun and return True when needed."""
    from tfk.registry import load_registry

    info = load_registry().get(model).info
    own = {o.dest for o in info.options_for("train")} if info is not None else set()
    spec = pop_launch(values, own)
    if not needs_launch(spec, own):
        if spec.world_size > 1 and not under_torchrun():
            check(model, info, spec)
        return False
    check(model, info, spec)
    glob = ["--progress", os.environ.get("TFK_PROGRESS", "auto"), *(["--debug"] if os.environ.get("TFK_DEBUG") else [])]
    worker = [*glob, "train", model, *worker_args(command, values)]
    run_torchrun(torchrun_argv(spec, worker), spec)
    return True


# ------------------------------------------------------------------ local processes (one node, no torchrun)
def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a local process group's rendezvous."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_local(fn: Any, nproc: int, args: tuple[Any, ...] = ()) -> None:
    """Run ``fn(rank, *args)`` in ``nproc`` fresh local processes (``torch.multiprocessing.spawn``) and wait.

    ``fn`` (a module-level function) sets up and tears down its own process group. A worker that returns
    leaves its process at once (:func:`_spawned_worker`); one that raises takes torch's normal path, so the
    caller gets ``torch.multiprocessing.ProcessRaisedException`` with its error.
    """
    import torch.multiprocessing as mp

    mp.spawn(_spawned_worker, args=(fn, args), nprocs=nproc, join=True)


def _spawned_worker(rank: int, fn: Any, args: tuple[Any, ...]) -> None:
    """``fn(rank, *args)``, then ``os._exit(0)`` after flushing stdio: interpreter finalization while gloo's
    worker threads still hold work objects can abort the process (SIGABRT, "terminate called without an
    active exception") after everything succeeded; leaving at once skips that finalization."""
    import sys

    fn(rank, *args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
