"""``train()``: fine-tune (from the base model or from scratch) or train a base model; single process,
torchrun, or spawned local processes (gloo on CPU, NCCL on CUDA). Only rank 0 writes files.

The base model trains on several subjects at once (the original samples one identity per step); with
several processes each rank samples its own identity/frame/rays and DistributedDataParallel averages the
gradients. A rerun with the same ``out_dir`` resumes from the newest ``*_head.tar`` in it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tfk.errors import DeviceUnavailable, TfkError, UsageError

__all__ = ["base_dir", "train", "train_stage"]

log = logging.getLogger("tfk.dfrf.train")


def train(
    subjects: Sequence[str | Path],
    out_dir: str | Path,
    preset: str = "paper",
    init: str = "base",
    base_checkpoint: str | Path | None = None,
    resume: bool = True,
    device: str = "cpu",
    nproc: int = 1,
    overrides: dict[str, Any] | None = None,
    log_dir: str | Path | None = None,
    progress: Any = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> Path:
    """Train and return the last checkpoint path.

    ``init``: ``base`` (fine-tune from ``base_checkpoint``: steps are added to its global step, as the original
    fine-tune continues from ``base.tar``) or ``scratch``. ``overrides`` replaces TrainConfig fields.
    """
    from tfk_dfrf.train.config import preset as make_preset

    make_preset(preset, **(overrides or {}))  # validate early
    if init not in ("base", "scratch"):
        raise UsageError(f"--from must be base or scratch, got {init!r}")
    if init == "base" and base_checkpoint is None:
        raise UsageError("fine-tuning from the base model needs its checkpoint (tfk weights pull dfrf)")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DeviceUnavailable("CUDA requested but not available", hint="use --device cpu")
    kwargs = dict(
        subjects=[str(s) for s in subjects],
        out_dir=str(out_dir),
        preset=preset,
        init=init,
        base_checkpoint=str(base_checkpoint) if base_checkpoint else None,
        resume=resume,
        device=device,
        overrides=overrides,
        log_dir=str(log_dir) if log_dir else None,
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or nproc <= 1:
        return _run(rank=None, world=None, progress=progress, callback=callback, **kwargs)
    import torch.multiprocessing as mp

    from tfk.distributed import free_port, spawn_local

    port = free_port()
    try:
        spawn_local(_spawned, nproc, (nproc, port, kwargs))
    except mp.ProcessRaisedException as exc:
        raise TfkError(f"a training process failed: {str(exc).strip().splitlines()[-1]}") from None
    from tfk_dfrf.models.dfrf import head_checkpoints

    return list(head_checkpoints(out_dir))[-1]


def _spawned(rank: int, world: int, port: int, kwargs: dict[str, Any]) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    _run(rank=rank, world=world, progress=None, callback=None, **kwargs)


def _digest(model) -> str:
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _writer(log_dir: str):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed
        log.info("TensorBoard is not installed; training logs go to the console only")
        return None
    return SummaryWriter(log_dir)


def _run(
    *,
    rank: int | None,
    world: int | None,
    subjects: list[str],
    out_dir: str,
    preset: str,
    init: str,
    base_checkpoint: str | None,
    resume: bool,
    device: str,
    overrides: dict[str, Any] | None,
    log_dir: str | None,
    progress: Any,
    callback,
) -> Path:
    import torch
    import torch.distributed as dist

    from tfk_dfrf.data import Subject
    from tfk_dfrf.models.dfrf import head_checkpoints
    from tfk_dfrf.train.config import preset as make_preset
    from tfk_dfrf.train.trainer import Trainer

    world = world or int(os.environ.get("WORLD_SIZE", "1"))
    rank = rank if rank is not None else int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device.startswith("cuda"):
        dev = torch.device("cuda", local if world > 1 else (torch.device(device).index or 0))
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    own_group = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
        own_group = True
    cfg = make_preset(preset, **(overrides or {}))
    out = Path(out_dir)
    writer = _writer(log_dir or str(out / "tensorboard")) if rank == 0 else None
    try:
        data = [Subject(s) for s in subjects]
        tr = Trainer(data, out, cfg, dev, rank=rank, world=world, writer=writer, progress=progress, callback=callback)
        if not resume and rank == 0:
            for p in head_checkpoints(out):
                p.unlink()
        if world > 1:
            dist.barrier()
        latest = tr.latest_checkpoint()
        if latest is not None:
            tr.resume(latest)
            log.info("resuming from %s (iteration %d)", latest, tr.iteration)
        elif init == "base":
            tr.init_from(base_checkpoint)
            log.info("fine-tuning from %s (global step %d)", base_checkpoint, tr.global_step)
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            tr.step_module = DistributedDataParallel(tr.step_module, find_unused_parameters=True)
        final = tr.run()
        if world > 1:
            digests = [None] * world
            dist.all_gather_object(digests, _digest(tr.model))
            if len(set(digests)) != 1:
                raise TfkError("DDP processes ended with different weights")
        return final
    finally:
        if writer is not None:
            writer.close()
        if own_group:
            dist.destroy_process_group()


def base_dir(home: str | Path, uids: Sequence[str]) -> Path:
    """Where ``tfk train dfrf --uid a,b,c --base`` keeps its checkpoints: ``TFK_HOME/models/dfrf/base/a+b+c``."""
    from tfk.workspace.workspace import uids_label

    return Path(home) / "models" / "dfrf" / "base" / uids_label(uids)


def train_stage(ctx, options: dict[str, Any]) -> Path:
    """The ``tfk_train`` hook body: fine-tune one subject (``--uid``) or train a base model on the subjects of
    ``--uid a,b,c --base`` (the core checked the list and their workspaces); the base model from the store.

    A fine-tune writes into the subject's workspace; a base model goes to :func:`base_dir` (or ``--out``),
    never into one of its subjects' workspaces.
    """
    from tfk_dfrf.artifacts import BASE_MODEL
    from tfk_dfrf.infer import checkpoint_dir

    uids = list(ctx.uids)
    if not uids:
        raise UsageError("tfk train dfrf needs --uid (or --uid a,b,c --base)")
    if len(uids) > 1 and not options["base"]:  # run_stage refuses this; a direct hook call may not
        raise UsageError("several subjects train a base model: add --base")
    roots = [ws.root for ws in ctx.workspaces]
    init = "scratch" if options["base"] else options["from"]
    base_ckpt = options["base_checkpoint"]
    if init == "base" and base_ckpt is None:
        base_ckpt = ctx.require(BASE_MODEL)
    if options["out"] is not None:
        out = Path(options["out"])
    elif options["base"]:
        out = base_dir(ctx.home, uids)
    else:
        out = checkpoint_dir(roots[0])
    overrides = {"smooth": options["smooth"]}
    if options["steps"] is not None:
        overrides["steps"] = options["steps"]
    task = None
    if ctx.progress is not None and hasattr(ctx.progress, "task"):
        task = ctx.progress.task("dfrf train")
    if task is not None:
        with task as handle:
            final = train(
                roots,
                out,
                options["preset"],
                init,
                base_ckpt,
                options["resume"],
                ctx.device,
                options["nproc_per_node"],
                overrides,
                progress=handle,
            )
    else:
        final = train(
            roots,
            out,
            options["preset"],
            init,
            base_ckpt,
            options["resume"],
            ctx.device,
            options["nproc_per_node"],
            overrides,
        )
    if ctx.run is not None:
        ctx.run.record_output("checkpoint", final)
    return final
