"""``train()``: LawDNet's coarse-to-fine stages in order, resumable, single process, torchrun or spawned DDP.

Under ``out_dir``, each stage writes ``<stage>/checkpoint.pt`` (rolling, resumable) and, when it completes,
``<stage>/generator.pt``; TensorBoard logs go to ``log_dir`` (default ``out_dir/tensorboard``). A rerun
skips finished stages and resumes an unfinished one from its checkpoint (``resume=True``); each stage
starts from the previous stage's ``generator.pt``.

Multi-process: under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the process group is initialised
from the environment; otherwise ``nproc`` > 1 spawns that many local processes. The backend is NCCL on CUDA
and gloo on CPU; only rank 0 writes files.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tfk.errors import ConfigError, DeviceUnavailable, TfkError, UsageError

__all__ = ["train"]

log = logging.getLogger("tfk.lawdnet.train")


def _select(preset_name: str, stages: Sequence[str] | None, overrides: dict[str, Any] | None):
    from tfk_lawdnet.train.config import STAGE_NAMES, preset

    all_stages = preset(preset_name, **(overrides or {}))
    if not stages:
        return all_stages, all_stages
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise UsageError(f"unknown stage(s) {', '.join(unknown)} (choose from {', '.join(STAGE_NAMES)})")
    return all_stages, tuple(s for s in all_stages if s.name in stages)


def _resolve_weights(chosen, vgg_weights, syncnet_weights):
    from tfk_lawdnet import artifacts as arts

    if vgg_weights is None and any(s.vgg == "imagenet" for s in chosen):
        from tfk.weights import require

        vgg_weights = require(arts.VGG19)
    if syncnet_weights is None and any(s.kind == "clip" and s.syncnet == "pretrained" for s in chosen):
        from tfk.weights import require

        syncnet_weights = require(arts.SYNCNET)
    return vgg_weights, syncnet_weights


def train(
    data_root: str | Path,
    out_dir: str | Path,
    stages: Sequence[str] | None = None,
    preset: str = "tiny",
    resume: bool = True,
    device: str = "cpu",
    nproc: int = 1,
    progress: Any = None,
    log_dir: str | Path | None = None,
    *,
    vgg_weights: str | Path | None = None,
    syncnet_weights: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    callback: Callable[[dict[str, Any]], bool | None] | None = None,
) -> Path:
    """Run the chosen stages (default: all four) of ``preset``; returns the last stage's generator path.

    ``overrides`` replaces StageConfig fields in every stage (e.g. ``{"max_steps_per_epoch": 3}``).
    ``callback(info)`` is called after every step on every rank; returning True stops the run like Ctrl-C
    (checkpoint saved, :class:`tfk.errors.Interrupted` raised).
    """
    _all_stages, chosen = _select(preset, stages, overrides)
    if not chosen:
        raise UsageError("no training stage selected")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise DeviceUnavailable("CUDA requested but not available", hint="use --device cpu")
    vgg_weights, syncnet_weights = _resolve_weights(chosen, vgg_weights, syncnet_weights)
    kwargs = dict(
        data_root=str(data_root),
        out_dir=str(out_dir),
        stage_names=[s.name for s in chosen],
        preset=preset,
        overrides=overrides,
        resume=resume,
        device=device,
        log_dir=str(log_dir) if log_dir else None,
        vgg_weights=str(vgg_weights) if vgg_weights else None,
        syncnet_weights=str(syncnet_weights) if syncnet_weights else None,
    )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    env_world = int(os.environ.get("WORLD_SIZE", "1"))
    if env_world > 1 or nproc <= 1:
        return _run(rank=None, world=None, progress=progress, callback=callback, **kwargs)
    import torch.multiprocessing as mp

    from tfk.distributed import free_port, spawn_local

    if not resume:
        _clear(Path(out_dir), kwargs["stage_names"])
        kwargs["resume"] = True
    port = free_port()
    try:
        spawn_local(_spawned, nproc, (nproc, port, kwargs, callback))
    except mp.ProcessRaisedException as exc:
        text = str(exc)
        if "Interrupted" in text:
            from tfk.errors import Interrupted

            raise Interrupted("training interrupted; checkpoint saved", hint="run the same command to resume") from None
        raise TfkError(f"a training process failed: {text.strip().splitlines()[-1]}") from None
    return Path(out_dir) / kwargs["stage_names"][-1] / "generator.pt"


def _clear(out: Path, names: Sequence[str]) -> None:
    for n in names:
        shutil.rmtree(out / n, ignore_errors=True)


def _spawned(rank: int, world: int, port: int, kwargs: dict[str, Any], callback) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    _run(rank=rank, world=world, progress=None, callback=callback, **kwargs)


def _run(
    *,
    rank: int | None,
    world: int | None,
    data_root: str,
    out_dir: str,
    stage_names: list[str],
    preset: str,
    overrides: dict[str, Any] | None,
    resume: bool,
    device: str,
    log_dir: str | None,
    vgg_weights: str | None,
    syncnet_weights: str | None,
    progress: Any,
    callback,
) -> Path:
    import torch
    import torch.distributed as dist

    from tfk_lawdnet.train.trainer import StageTrainer

    world = world or int(os.environ.get("WORLD_SIZE", "1"))
    rank = rank if rank is not None else int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device.startswith("cuda"):
        dev = torch.device("cuda", local if world > 1 else torch.device(device).index or 0)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    own_group = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
        own_group = True
    out = Path(out_dir)
    all_stages, chosen = _select(preset, stage_names, overrides)
    order = [s.name for s in all_stages]
    writer = None
    try:
        if not resume and rank == 0:
            _clear(out, stage_names)
        if world > 1:
            dist.barrier()
        if rank == 0:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir or str(out / "tensorboard"))
        final = out
        for cfg in chosen:
            stage_dir = out / cfg.name
            final = stage_dir / "generator.pt"
            if final.is_file():
                log.info("stage %s already done: %s", cfg.name, final)
                continue
            tr = StageTrainer(
                cfg,
                Path(data_root),
                stage_dir,
                dev,
                rank=rank,
                world=world,
                vgg_weights=Path(vgg_weights) if vgg_weights else None,
                syncnet_weights=Path(syncnet_weights) if syncnet_weights else None,
                writer=writer,
                progress=progress,
                callback=callback,
            )
            if tr.ckpt_path.is_file():
                tr.load(tr.ckpt_path)
                log.info("resuming %s at epoch %d step %d", cfg.name, tr.epoch, tr.step_in_epoch)
            else:
                i = order.index(cfg.name)
                prev = out / order[i - 1] / "generator.pt" if i > 0 else None
                if prev is not None and prev.is_file():
                    tr.init_generator(prev)
                elif prev is not None:
                    log.warning("stage %s starts from random weights: %s not found", cfg.name, prev)
            final = tr.run()
        return final
    except ConfigError:
        raise
    finally:
        if writer is not None:
            writer.close()
        if own_group:
            dist.destroy_process_group()
