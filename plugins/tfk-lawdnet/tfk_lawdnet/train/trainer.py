"""One LawDNet training stage: networks, losses, the step, resumable checkpoints, TensorBoard, DDP.

Output layout of a stage under ``out_dir``::

    <stage>/checkpoint.pt   rolling resumable state (atomic): nets, optimizers, schedulers, GradScaler,
                            RNG states, epoch / step, stage config and its fingerprint
    <stage>/generator.pt    the stage's final generator (``state_dict.net_g`` + ``meta``); marks the stage done

Per step (original order): the image discriminator (and, in the clip stage, the video discriminator) is
updated on ``fake.detach()`` vs real with LSGAN targets 0/1 (x0.5), then the generator on
``MSE x1 + perceptual x10 + LSGAN(D_I(fake), 1) x1`` (+ ``LSGAN(D_V) x1 + SyncNet MSE to 1 x0.1``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F  # noqa: N812

from tfk.errors import ConfigError, Interrupted
from tfk_lawdnet.models.checkpoint import (
    load_checkpoint,
    load_generator_state,
    save_checkpoint,
    save_generator,
)
from tfk_lawdnet.models.discriminator import Discriminator
from tfk_lawdnet.models.lawdnet import LawDNet
from tfk_lawdnet.models.syncnet import SyncNet, mouth_region
from tfk_lawdnet.models.vgg import Vgg19, perceptual_loss
from tfk_lawdnet.train.config import StageConfig

log = logging.getLogger("tfk.lawdnet.train")

__all__ = ["StageTrainer", "rng_state", "set_rng_state"]

CKPT_FORMAT = "tfk-lawdnet/train-1"


# ------------------------------------------------------------------------------------------- RNG state
def rng_state() -> dict[str, Any]:
    """Python, numpy, torch and CUDA RNG states as tensors/primitives (loadable with ``weights_only``)."""
    py = random.getstate()
    _name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "g": int(has_gauss), "c": cached},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["g"], float(n["c"])))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class StopFlag:
    """Set by SIGINT/SIGTERM (handled at the next step boundary) or by a callback; a second SIGINT aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _lsgan(pred: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(pred, torch.full_like(pred, target))


def params_digest(net: torch.nn.Module) -> str:
    """sha256 over the generator's parameter bytes (equal across DDP ranks when they are in sync)."""
    h = hashlib.sha256()
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def image_grid(*rows: torch.Tensor, n: int = 4) -> torch.Tensor:
    """Side-by-side columns (one per tensor in ``rows``) for up to ``n`` samples: a CHW image in [0, 1]."""
    cols = [r[:n].detach().float().cpu().clamp(0, 1) for r in rows]
    return torch.cat([torch.cat(list(c), dim=1) for c in cols], dim=2)


# ------------------------------------------------------------------------------------------ the stage
class StageTrainer:
    """Trains one stage. ``rank``/``world`` > 1 means an initialised process group (gloo or nccl)."""

    def __init__(
        self,
        cfg: StageConfig,
        data_root: Path,
        stage_dir: Path,
        device: torch.device,
        *,
        rank: int = 0,
        world: int = 1,
        vgg_weights: Path | None = None,
        syncnet_weights: Path | None = None,
        writer: Any = None,
        progress: Any = None,
        callback: Callable[[dict[str, Any]], bool | None] | None = None,
    ):
        self.cfg, self.data_root, self.dir, self.device = cfg, Path(data_root), Path(stage_dir), device
        self.rank, self.world = rank, world
        self.writer, self.progress, self.callback = writer, progress, callback
        self.amp = bool(cfg.amp and device.type == "cuda")
        self.clip = cfg.kind == "clip"
        seed_all(cfg.seed + rank)

        from tfk_lawdnet.train.data import ClipDataset, FrameDataset, TrainData

        data = TrainData(data_root)
        self.frontend = cfg.frontend or ("dp2" if "dp2" in data.frontends else "dp1")
        self.sync_frontend = cfg.sync_frontend or ("dp1" if "dp1" in data.frontends else self.frontend)
        if self.clip:
            self.dataset = ClipDataset(
                data, cfg.mouth, self.frontend, self.sync_frontend, cfg.augment_num, seed=cfg.seed
            )
        else:
            self.dataset = FrameDataset(data, cfg.mouth, self.frontend, cfg.augment_num, seed=cfg.seed)

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.net_g = LawDNet(coarse_grid_size=cfg.grid).to(device)
        self.net_di = Discriminator(3).to(device)
        self.net_dv = Discriminator(15).to(device) if self.clip else None
        self.vgg = Vgg19(vgg_weights if cfg.vgg == "imagenet" else None, width=cfg.vgg_width).to(device)
        self.syncnet = None
        if self.clip:
            self.syncnet = SyncNet().to(device)
            if cfg.syncnet == "pretrained":
                self._load_syncnet(syncnet_weights)
            self.syncnet.requires_grad_(False).eval()
        torch.manual_seed(cfg.seed + rank)

        self.opt_g = torch.optim.AdamW(self.net_g.parameters(), lr=cfg.lr_g)
        self.opt_di = torch.optim.AdamW(self.net_di.parameters(), lr=cfg.lr_d)
        self.opt_dv = torch.optim.AdamW(self.net_dv.parameters(), lr=cfg.lr_d) if self.net_dv is not None else None
        lam = _lr_lambda(cfg.non_decay, cfg.decay)
        self.sched = {k: torch.optim.lr_scheduler.LambdaLR(o, lam) for k, o in self._opts().items()}
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.g, self.di, self.dv = self.net_g, self.net_di, self.net_dv  # what the step calls (DDP wrappers)

    # -------------------------------------------------------------------------------- setup helpers
    def _opts(self) -> dict[str, torch.optim.Optimizer]:
        d = {"net_g": self.opt_g, "net_dI": self.opt_di}
        if self.opt_dv is not None:
            d["net_dV"] = self.opt_dv
        return d

    def _trained(self) -> set[str]:
        """The networks the step updates: the generator, and each discriminator a generator loss uses."""
        cfg = self.cfg
        return {"net_g"} | ({"net_dI"} if cfg.lamb_g_di > 0 else set()) | ({"net_dV"} if cfg.lamb_g_dv > 0 else set())

    def _nets(self) -> dict[str, torch.nn.Module]:
        d = {"net_g": self.net_g, "net_dI": self.net_di}
        if self.net_dv is not None:
            d["net_dV"] = self.net_dv
        return d

    def _load_syncnet(self, path: Path | None) -> None:
        if path is None:
            raise ConfigError("the clip stage needs SyncNet weights (or syncnet='random')")
        obj = load_checkpoint(path)
        sd = obj.get("state_dict", {}).get("net", obj) if isinstance(obj, dict) else obj
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
        self.syncnet.load_state_dict(sd, strict=True)

    def init_generator(self, path: Path) -> None:
        """Start from a previous stage's generator (``state_dict.net_g``)."""
        from tfk_lawdnet.models.checkpoint import extract_generator_state

        sd, _ = extract_generator_state(load_checkpoint(path))
        load_generator_state(self.net_g, sd, Path(path).name)

    def wrap_ddp(self) -> None:
        if self.world <= 1:
            return
        from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: N817

        ids = [self.device.index] if self.device.type == "cuda" else None
        # the inert first LAW branch never receives gradients
        self.g = DDP(self.net_g, device_ids=ids, find_unused_parameters=True)
        self.di = DDP(self.net_di, device_ids=ids)
        self.dv = DDP(self.net_dv, device_ids=ids) if self.net_dv is not None else None

    # ----------------------------------------------------------------------------------- checkpoints
    @property
    def ckpt_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    @property
    def final_path(self) -> Path:
        return self.dir / "generator.pt"

    def state(self) -> dict[str, Any]:
        return {
            "format": CKPT_FORMAT,
            "stage": self.cfg.name,
            "config": self.cfg.to_dict(),
            "fingerprint": self.cfg.fingerprint(),
            "world": self.world,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "state_dict": {k: n.state_dict() for k, n in self._nets().items()},
            "optimizer": {k: o.state_dict() for k, o in self._opts().items()},
            "scheduler": {k: s.state_dict() for k, s in self.sched.items()},
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "meta": self.meta(),
        }

    def meta(self) -> dict[str, Any]:
        return {
            "audio_frontend": self.frontend,
            "coarse_grid_size": self.cfg.grid,
            "mouth": self.cfg.mouth,
            "stage": self.cfg.name,
        }

    def save(self) -> None:
        if self.rank == 0:
            save_checkpoint(self.state(), self.ckpt_path)
        if self.world > 1:
            dist.barrier()

    def load(self, path: Path) -> None:
        ck = load_checkpoint(path)
        if ck.get("format") != CKPT_FORMAT or ck.get("stage") != self.cfg.name:
            raise ConfigError(f"{path} is not a checkpoint of training stage {self.cfg.name}")
        if ck.get("fingerprint") != self.cfg.fingerprint() or ck.get("world") != self.world:
            raise ConfigError(
                f"cannot resume {self.cfg.name}: {path} was written with other settings "
                "(stage config or number of processes)",
                hint="resume with the same preset and --nproc-per-node, or start over with --no-resume",
            )
        for k, n in self._nets().items():
            n.load_state_dict(ck["state_dict"][k], strict=True)
        for k, o in self._opts().items():
            o.load_state_dict(ck["optimizer"][k])
        for k, s in self.sched.items():
            s.load_state_dict(ck["scheduler"][k])
        self.scaler.load_state_dict(ck["scaler"])
        if self.rank == 0:
            set_rng_state(ck["rng"])
        else:
            seed_all(self.cfg.seed + self.rank + 7919 * int(ck["global_step"]))
        self.epoch, self.step_in_epoch, self.global_step = ck["epoch"], ck["step_in_epoch"], ck["global_step"]

    # ------------------------------------------------------------------------------------- the step
    def _to(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def step(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, float], tuple[torch.Tensor, ...]]:
        cfg, b = self.cfg, self._to(batch)
        if self.clip:  # (B,5,...) -> (5B,...), frame-major as in the original
            n = b["source"].shape[0]
            flat = {k: torch.cat(b[k].unbind(1), 0) for k in ("source", "masked", "refs", "audio")}
        else:
            n, flat = b["source"].shape[0], b
        real, masked = flat["source"], flat["masked"]
        ac = torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)
        with ac:
            fake = self.g(masked, flat["refs"], flat["audio"])

        losses: dict[str, torch.Tensor] = {}
        # ---- discriminators (one forward on fake.detach() + real); skipped when no generator loss uses them
        train_di = "net_dI" in self._trained()
        train_dv = self.clip and "net_dV" in self._trained()
        if self.clip and (cfg.lamb_g_dv > 0 or cfg.lamb_sync > 0):
            fake_clip = _clip(fake, n)
        if train_di or train_dv:
            d_opts = []
            loss_d = fake.new_zeros(())
            with ac:
                if train_di:
                    self.opt_di.zero_grad(set_to_none=True)
                    d_opts.append(self.opt_di)
                    pred = self.di(torch.cat([fake.detach(), real], 0))
                    pf, pr = pred.split([fake.shape[0], real.shape[0]])
                    losses["d_image"] = 0.5 * (_lsgan(pf, 0.0) + _lsgan(pr, 1.0))
                    loss_d = loss_d + losses["d_image"]
                if train_dv:
                    self.opt_dv.zero_grad(set_to_none=True)
                    d_opts.append(self.opt_dv)
                    real_clip = _clip(real, n)
                    pv = self.dv(torch.cat([fake_clip.detach(), real_clip], 0))
                    pvf, pvr = pv.split([n, n])
                    losses["d_video"] = 0.5 * (_lsgan(pvf, 0.0) + _lsgan(pvr, 1.0))
                    loss_d = loss_d + losses["d_video"]
            self.scaler.scale(loss_d).backward()
            for o in d_opts:
                self.scaler.step(o)

        # ---- generator (the discriminators are called unwrapped: no gradient sync for them here); a loss with
        # weight 0 is not computed (``--losses pixel`` trains on MSE alone, about twice as fast)
        self.opt_g.zero_grad(set_to_none=True)
        with ac:
            losses["pixel"] = F.mse_loss(fake, real)
            loss_g = cfg.lamb_pixel * losses["pixel"]
            if cfg.lamb_perception > 0:
                losses["perception"] = perceptual_loss(self.vgg, fake, real)
                loss_g = loss_g + cfg.lamb_perception * losses["perception"]
            if train_di:
                losses["g_image"] = _lsgan(self.net_di(fake), 1.0)
                loss_g = loss_g + cfg.lamb_g_di * losses["g_image"]
            if train_dv:
                losses["g_video"] = _lsgan(self.net_dv(fake_clip), 1.0)
                loss_g = loss_g + cfg.lamb_g_dv * losses["g_video"]
            if self.clip and cfg.lamb_sync > 0:
                mouths = mouth_region(fake_clip, cfg.mouth, cfg.sync_size)
                losses["sync"] = _lsgan(self.syncnet(mouths, b["sync_audio"]), 1.0)
                loss_g = loss_g + cfg.lamb_sync * losses["sync"]
            losses["g_total"] = loss_g
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        out = {k: float(v.detach()) for k, v in losses.items()}
        return out, (real, masked, fake)

    # ------------------------------------------------------------------------------------- the loop
    def _batches(self, epoch: int) -> list[list[int]]:
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(
            self.dataset, num_replicas=self.world, rank=self.rank, shuffle=True, seed=self.cfg.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        idx = list(sampler)
        bs = self.cfg.batch
        batches = [idx[i * bs : (i + 1) * bs] for i in range(len(idx) // bs)]
        if self.cfg.max_steps_per_epoch:
            batches = batches[: self.cfg.max_steps_per_epoch]
        return batches

    def steps_total(self) -> int:
        return sum(len(self._batches(e)) for e in range(self.cfg.epochs))

    def _stop_requested(self, flag: StopFlag, info: dict[str, Any]) -> bool:
        asked = bool(self.callback is not None and self.callback(info))
        want = asked or flag.requested
        if self.world > 1:
            t = torch.tensor([1.0 if want else 0.0], device=self.device)
            dist.all_reduce(t)
            want = bool(t.item() > 0)
        return want

    def run(self) -> Path:
        """Train from the current state to the end of the stage; returns the final generator's path."""
        from torch.utils.data import DataLoader

        self.wrap_ddp()
        self.net_g.train()
        self.net_di.train()
        if self.net_dv is not None:
            self.net_dv.train()
        total = self.steps_total()
        task = self.progress.task(f"train {self.cfg.name}", total=total) if self.progress and self.rank == 0 else None
        ctx = task.__enter__() if task is not None else None
        if ctx is not None and self.global_step:
            ctx.advance(self.global_step)
        try:
            with StopFlag() as flag:
                while self.epoch < self.cfg.epochs:
                    self.dataset.set_epoch(self.epoch)
                    all_batches = self._batches(self.epoch)
                    batches = all_batches[self.step_in_epoch :]
                    loader = DataLoader(
                        self.dataset,
                        batch_sampler=batches,
                        num_workers=self.cfg.num_workers,
                        pin_memory=self.device.type == "cuda",
                        persistent_workers=False,
                    )
                    for batch in loader:
                        losses, images = self.step(batch)
                        self.step_in_epoch += 1
                        self.global_step += 1
                        self._log(losses, images)
                        if ctx is not None:
                            ctx.advance(1)
                        info = {"stage": self.cfg.name, "epoch": self.epoch, "step": self.global_step, **losses}
                        if self._stop_requested(flag, info):
                            self.save()
                            raise Interrupted(
                                f"training interrupted in stage {self.cfg.name} at step {self.global_step}; "
                                "checkpoint saved",
                                hint="run the same tfk train command again to resume",
                            )
                        last = self.step_in_epoch == len(all_batches)  # the epoch-end save follows
                        if self.cfg.save_every and self.global_step % self.cfg.save_every == 0 and not last:
                            self.save()
                    for k, s in self.sched.items():
                        if k in self._trained():  # an unused discriminator's schedule stays where it is
                            s.step()
                    self.epoch += 1
                    self.step_in_epoch = 0
                    self.save()
        finally:
            if task is not None:
                task.__exit__(None, None, None)
        return self.finish()

    def finish(self) -> Path:
        meta = self.meta()
        digest = params_digest(self.net_g)
        digests = [digest]
        if self.world > 1:
            digests = [None] * self.world
            dist.all_gather_object(digests, digest)
            if len(set(digests)) != 1:
                raise RuntimeError(f"DDP ranks diverged in stage {self.cfg.name}: {digests}")
        meta["rank_digests"] = ",".join(digests)
        if self.rank == 0:
            save_generator(self.net_g, self.final_path, meta, epoch=self.epoch)
        if self.world > 1:
            dist.barrier()
        return self.final_path

    def _log(self, losses: dict[str, float], images: tuple[torch.Tensor, ...]) -> None:
        if self.writer is None or self.rank != 0:
            return
        tag, step = self.cfg.name, self.global_step
        for k, v in losses.items():
            self.writer.add_scalar(f"{tag}/loss/{k}", v, step)
        self.writer.add_scalar(f"{tag}/lr_g", self.opt_g.param_groups[0]["lr"], step)
        if self.cfg.image_every and (step == 1 or step % self.cfg.image_every == 0):
            self.writer.add_image(f"{tag}/real_masked_fake", image_grid(*images), step)
        self.writer.flush()


def _clip(x: torch.Tensor, n: int) -> torch.Tensor:
    """(5n, 3, H, W) frame-major -> (n, 15, H, W): the 5 frames of each clip on channels."""
    return torch.cat(x.split(n, 0), 1)


def _lr_lambda(non_decay: int, decay: int) -> Callable[[int], float]:
    def fn(epoch: int) -> float:
        return 1.0 - max(0, epoch - non_decay) / float(decay + 1)

    return fn
