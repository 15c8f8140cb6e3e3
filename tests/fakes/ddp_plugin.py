"""A trainable fake plugin for the torchrun launcher tests (tfk.distributed).

Full-batch gradient descent on a linear model, DistributedDataParallel (gloo) when ``WORLD_SIZE`` > 1,
each rank on its slice of the data. Rank 0 writes ``checkpoint.pt`` atomically after every step; a run
resumes from it. ``--stop-after N`` interrupts every rank after step N (checkpoint written, exit 130).
With equal slices and a mean loss, DDP's averaged gradient is the full-batch gradient, so any world
size ends with the weights of a single-process run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tfk.plugin import ModelInfo, Option, StageContext, hookimpl


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="fake: DDP linear regression",
        version="0.0.1",
        options={
            "train": [
                Option("out", Path, "Checkpoint directory.", required=True),
                Option("steps", int, "Gradient steps.", default=6),
                Option("stop_after", int, "Testing aid: interrupt after this step.", default=0),
            ]
        },
        supports_ddp=True,
    )


@hookimpl
def tfk_train(ctx: StageContext, options: dict[str, Any]) -> Path:
    if ctx.progress is None:
        return train(Path(options["out"]), options["steps"], options["stop_after"])
    with ctx.progress.task("fake training"):  # a line on stderr unless --progress none
        return train(Path(options["out"]), options["steps"], options["stop_after"])


def train(out: Path, steps: int, stop_after: int = 0) -> Path:
    import torch
    import torch.distributed as dist

    from tfk.errors import Interrupted
    from tfk.fsutil import atomic_path, atomic_write_json

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    try:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(8, 3, generator=g)
        y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
        model = torch.nn.Linear(3, 1)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        ckpt, start = out / "checkpoint.pt", 0
        if ckpt.is_file():
            state = torch.load(ckpt, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            start = int(state["step"])
        net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
        xr, yr = x[rank::world], y[rank::world]
        for step in range(start, steps):
            opt.zero_grad()
            loss = ((net(xr).squeeze(1) - yr) ** 2).mean()
            loss.backward()
            opt.step()
            if rank == 0:
                out.mkdir(parents=True, exist_ok=True)
                with atomic_path(ckpt) as tmp:
                    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1}, tmp)
            if world > 1:
                dist.barrier()
            if stop_after and step + 1 == stop_after:
                raise Interrupted(f"stopped after step {stop_after}")
        ranks: list[Any] = [None] * world
        if world > 1:
            dist.all_gather_object(ranks, rank)
        else:
            ranks = [0]
        if rank == 0:
            atomic_write_json(
                out / "result.json",
                {
                    "world": world,
                    "ranks": sorted(ranks),
                    "resumed_from": start,
                    "weight": model.weight.detach().flatten().tolist(),
                    "bias": float(model.bias.detach()),
                },
            )
        return out / "result.json"
    finally:
        if world > 1:
            dist.destroy_process_group()


def result(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())
