"""The two StyleHEAT training stages, resumable exactly, single process or DDP (torchrun or spawned, gloo on CPU).

Stage ``warper`` (``video_warper_trainer.yaml``): VideoWarper from scratch (normal(0, 0.02) init), VGG19
perceptual loss ×1 on the warped image; each step uses the batch [src, flip(src)] or [src, tgt] (50 %) driven
by [tgt_sem, src_sem] against [tgt, src] (the released trainer's missing ``final_image``/mirror outputs are
dropped, as the author advised in OpenTalker/StyleHEAT#29).
Stage ``full`` (``video_styleheat_trainer.yaml``): the calibrator from scratch; HFGI/StyleGAN and the warper
(from ``--warper`` / the stage-1 run / ``StyleHEAT_visual.pt``) frozen; inputs [src_align, tgt_align] driven by
[tgt_sem, src_sem] against [tgt, src]; losses perceptual_warp 0.02, perceptual_final 0.2 (style ×250, masked),
perceptual_regular 0.01 (outside the mask, against the detached warp image), GAN 1.0 (frozen D-256,
0.1·softplus(−D)) and local 2.0 (L1 on mouth/eye crops).

Both: Adam(β 0.5, 0.999), StepLR (per iteration, 300k, γ 0.2), EMA ``0.5**(32/10000)``. Checkpoints
``epoch_{E:05}_iteration_{I:09}_checkpoint.pt`` = ``{net_G, net_G_ema, opt_G, sch_G, current_epoch,
current_iteration}`` (no generator keys; ``net_G_ema`` of stage full loads as ``StyleHEAT_visual.pt``) plus
``latest_checkpoint.txt``. Batches are drawn from ``(seed, iteration, rank)``, so a resumed run is identical to an
uninterrupted one. Gradients are all-reduced (mean) across ranks; only rank 0 writes.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tfk.errors import BadInput
from tfk_styleheat.train.config import Config, preset

__all__ = ["checkpoint_name", "latest_checkpoint", "train"]

log = logging.getLogger("tfk.styleheat.train")


def checkpoint_name(epoch: int, iteration: int) -> str:
    return f"epoch_{epoch:05d}_iteration_{iteration:09d}_checkpoint.pt"


def latest_checkpoint(out_dir: Path) -> Path | None:
    f = Path(out_dir) / "latest_checkpoint.txt"
    if not f.is_file():
        return None
    p = Path(out_dir) / f.read_text().strip()
    return p if p.is_file() else None


def _init_normal(m: nn.Module) -> None:
    for mod in m.modules():
        w = getattr(mod, "weight", None)
        if isinstance(w, nn.Parameter) and w.ndim > 1:
            nn.init.normal_(w, 0.0, 0.02)
            b = getattr(mod, "bias", None)
            if isinstance(b, nn.Parameter):
                nn.init.zeros_(b)


def _vgg(cfg: Config, require: Callable[[str], Path] | None):
    from tfk_styleheat.models.checkpoint import load_state, load_torch
    from tfk_styleheat.train.losses import VGG19

    torch.manual_seed(cfg.seed)
    vgg = VGG19(1.0 if cfg.vgg == "imagenet" else 1 / 8)
    if cfg.vgg == "imagenet":
        from tfk_styleheat import artifacts as arts

        sd = load_torch((require or _default_require())(arts.VGG19))
        load_state(vgg, {k: v for k, v in sd.items() if k.startswith("features.")}, "vgg19")
    return vgg


def _default_require():
    from tfk.weights import require

    return require


class _Stage:
    """What differs between the stages: trainable module, EMA target and the loss of one batch."""

    def __init__(self, cfg: Config, require, lmdb_root: Path, warper_ckpt: Path | None, device: str):
        from tfk_styleheat.train.data import LmdbPairs
        from tfk_styleheat.train.losses import PerceptualLoss

        self.cfg = cfg
        self.device = device
        vgg = _vgg(cfg, require).to(device)
        self.perc = PerceptualLoss(vgg)
        self.perc_style = PerceptualLoss(vgg, style_weight=cfg.style_weight)
        torch.manual_seed(cfg.seed)
        if cfg.stage == "warper":
            from tfk_styleheat.models.warper import VideoWarper

            self.data = LmdbPairs(lmdb_root / "vox", "vox", cfg.image_size)
            self.net = VideoWarper(cfg.narrow).to(device)
            _init_normal(self.net)
            self.model = self.net
        else:
            from tfk_styleheat.infer import load_engine
            from tfk_styleheat.models import checkpoint as ck
            from tfk_styleheat.models.stylegan2 import Discriminator
            from tfk_styleheat.train.losses import GanLoss

            self.data = LmdbPairs(lmdb_root / "hdtf", "hdtf", cfg.image_size)
            self.model = load_engine(require, device).model
            if warper_ckpt is not None:
                ck.load_warper(self.model.video_warper, warper_ckpt)
            self.model.generator.requires_grad_(False)
            self.model.video_warper.requires_grad_(False)
            self.net = self.model.calibrator
            _init_normal(self.net)
            self.net.requires_grad_(True)
            from tfk_styleheat import artifacts as arts

            dsd = ck.load_torch(require(arts.D256))
            dsd = dsd.get("params", dsd) if isinstance(dsd, dict) else dsd
            narrow = dsd["convs.0.0.weight"].shape[0] / 128
            with torch.device("meta"):
                d = Discriminator(256, 2, narrow)
            d = d.to_empty(device="cpu")
            ck.load_state(d, dsd, "stylegan2_d_256.pth")
            self.gan = GanLoss(d.to(device))

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.net.parameters() if p.requires_grad]

    def ema_state(self, ema: nn.Module) -> dict[str, torch.Tensor]:
        if self.cfg.stage == "warper":
            return ema.state_dict()
        warper = {f"video_warper.{k}": v for k, v in self.model.video_warper.state_dict().items()}
        return warper | {f"calibrator.{k}": v for k, v in ema.state_dict().items()}

    def net_state(self) -> dict[str, torch.Tensor]:
        return self.ema_state(self.net)

    def invert(self, x: torch.Tensor, ids: list[str]):
        """HFGI inversion of the (frozen) inputs, cached per frame: identical to recomputing it every step."""
        from tfk_styleheat.models.styleheat import Inversion

        cache = self.__dict__.setdefault("_inv_cache", {})
        missing = [n for n, k in enumerate(ids) if k not in cache]
        if missing:
            with torch.no_grad():
                inv = self.model.invert(x[missing])
            for j, n in enumerate(missing):
                if len(cache) >= 512:
                    cache.pop(next(iter(cache)))
                cache[ids[n]] = (inv.ix[j], inv.wx[j], inv.fx[j], inv.condition[0][j], inv.condition[1][j])
        parts = [torch.stack(t) for t in zip(*(cache[k] for k in ids), strict=True)]
        return Inversion(parts[0], parts[1], parts[2], (parts[3], parts[4]))

    def step(self, batch: dict, rng: np.random.Generator, iteration: int):
        b = {k: v.to(self.device) for k, v in batch.items() if k != "ids"}
        if self.cfg.stage == "warper":
            second = b["target_image"] if rng.random() < 0.5 else torch.flip(b["source_image"], (3,))
            x = torch.cat((b["source_image"], second))
            sem = torch.cat((b["target_semantics"], b["source_semantics"]))
            gt = torch.cat((b["target_image"], b["source_image"]))
            out = self.model(x, sem)
            loss = self.perc(out["warp_image"], gt)
            return loss, {"perceptual_warp": loss.item()}, {"input": x, "gt": gt, "warp": out["warp_image"]}
        from tfk_styleheat.train.losses import landmark_mask, local_crops

        r = self.cfg.imsize
        x = torch.cat((b["source_align"], b["target_align"]))
        sem = torch.cat((b["target_semantics"], b["source_semantics"]))
        gt = torch.cat((b["target_image"], b["source_image"]))
        gt = F.interpolate(gt, size=(r, r), mode="bilinear", align_corners=False) if gt.shape[-1] != r else gt
        kp = torch.cat((b["target_keypoint"], b["source_keypoint"])) * (r / 256)
        ids = [s for s, _ in batch["ids"]] + [t for _, t in batch["ids"]]
        inv = self.invert(x, ids)
        out = self.model(sem, inv, imsize=r, warp_image=True)
        fake, warp_img = out["fake_image"], out["video_warp_image"]
        mask = landmark_mask(kp, r, iteration)
        c = self.cfg
        terms = {
            "perceptual_warp": c.w_perceptual_warp * self.perc(warp_img, gt),
            "perceptual_final": c.w_perceptual_final * self.perc_style(fake * mask, gt * mask),
            "perceptual_regular": c.w_perceptual_regular * self.perc(fake * (1 - mask), warp_img.detach() * (1 - mask)),
            "gan": c.w_gan * self.gan(fake),
            "local": c.w_local
            * sum(F.l1_loss(a, g) for a, g in zip(local_crops(fake, kp, 1.0), local_crops(gt, kp, 1.0), strict=True)),
        }
        loss = sum(terms.values())
        return (
            loss,
            {k: float(v.detach()) for k, v in terms.items()},
            {"input": x, "gt": gt, "warp": warp_img, "fake": fake},
        )


def _grid(images: dict[str, torch.Tensor], path: Path) -> np.ndarray:
    import cv2

    size = min(t.shape[-1] for t in images.values())
    rows = []
    for t in images.values():
        t = F.interpolate(t[:4].detach().float(), size=(size, size), mode="bilinear", align_corners=False)
        rows.append(torch.cat(list(t), -1))
    grid = ((torch.cat(rows, -2).clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    os.replace(tmp, path)
    return grid


def _save(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _run(rank: int, world: int, kw: dict[str, Any]) -> dict[str, Any]:
    import torch.distributed as dist

    cfg: Config = kw["cfg"]
    out_dir = Path(kw["out_dir"])
    require = kw["require"] or _default_require()
    st = _Stage(cfg, require, Path(kw["lmdb_root"]), kw.get("warper"), kw["device"])
    params = st.trainable()
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
    sch = torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma)
    ema = copy.deepcopy(st.net).requires_grad_(False)
    start = 0
    ckpt = latest_checkpoint(out_dir) if kw["resume"] else None
    if ckpt is not None:
        from tfk_styleheat.models.checkpoint import load_torch

        obj = load_torch(ckpt)
        prefix = "" if cfg.stage == "warper" else "calibrator."
        st.net.load_state_dict({k[len(prefix) :]: v for k, v in obj["net_G"].items() if k.startswith(prefix)})
        ema.load_state_dict({k[len(prefix) :]: v for k, v in obj["net_G_ema"].items() if k.startswith(prefix)})
        opt.load_state_dict(obj["opt_G"])
        sch.load_state_dict(obj["sch_G"])
        start = int(obj["current_iteration"])
    per_epoch = max(1, math.ceil(len(st.data) / (cfg.batch_size * world)))
    total = cfg.iterations if cfg.iterations is not None else cfg.max_epoch * per_epoch
    writer = None
    if rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0 and cfg.tensorboard:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out_dir / "tensorboard"))
        except ImportError:  # TensorBoard is optional
            writer = None
    history: list[float] = []
    for it in range(start + 1, total + 1):
        rng = np.random.default_rng([cfg.seed, 0 if cfg.fixed_batch else it, rank])
        batch = st.data.sample(rng, cfg.batch_size)
        loss, terms, images = st.step(batch, rng, it)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        if world > 1:
            for p in params:
                dist.all_reduce(p.grad)
                p.grad /= world
        opt.step()
        sch.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), st.net.parameters(), strict=True):
                pe.lerp_(p, 1 - cfg.ema_decay)
            for be, bn in zip(ema.buffers(), st.net.buffers(), strict=True):
                be.copy_(bn)
        history.append(float(loss.detach()))
        if rank == 0:
            if writer is not None and it % cfg.log_every == 0:
                for k, v in terms.items():
                    writer.add_scalar(f"loss/{k}", v, it)
                writer.add_scalar("loss/total", history[-1], it)
            if it % cfg.snapshot_every == 0 or it == total:
                epoch = (it - 1) // per_epoch
                name = checkpoint_name(epoch, it)
                _save(
                    out_dir / name,
                    {
                        "net_G": st.net_state(),
                        "net_G_ema": st.ema_state(ema),
                        "opt_G": opt.state_dict(),
                        "sch_G": sch.state_dict(),
                        "current_epoch": epoch,
                        "current_iteration": it,
                    },
                )
                tmp = out_dir / ".latest_checkpoint.txt.tmp"
                tmp.write_text(name + "\n")
                os.replace(tmp, out_dir / "latest_checkpoint.txt")
                grid = _grid(images, out_dir / "samples" / f"iteration_{it:09d}.png")
                if writer is not None:
                    writer.add_image("samples", grid, it, dataformats="HWC")
    if writer is not None:
        writer.close()
    result = {"iterations": total, "start": start, "losses": history}
    if world > 1:
        flat = torch.cat([p.detach().reshape(-1) for p in st.net.parameters()])
        ref = flat.clone()
        dist.broadcast(ref, 0)
        diff = torch.tensor([float((flat - ref).abs().max())])
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
        result["rank_max_param_diff"] = float(diff)
        if rank == 0:
            (out_dir / "ddp_sync.json").write_text(json.dumps({"world": world, "max_param_diff": float(diff)}))
    return result


def _spawned(rank: int, world: int, port: int, kw: dict[str, Any]) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        _run(rank, world, kw)
        dist.barrier()  # nobody tears gloo down while another rank still talks to it (a rare SIGABRT otherwise)
    finally:
        dist.destroy_process_group()


def train(
    lmdb_root: Path,
    out_dir: Path,
    stage: str = "warper",
    preset_name: str = "paper",
    iterations: int | None = None,
    resume: bool = True,
    nproc: int = 1,
    require: Callable[[str], Path] | None = None,
    device: str = "cpu",
    warper: Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train one stage into ``out_dir``; returns ``{iterations, start, losses}`` (rank 0 / single process)."""
    import torch.distributed as dist

    cfg = preset(preset_name, stage, iterations=iterations, **overrides)
    if nproc < 1:
        raise BadInput("--nproc-per-node must be at least 1")
    if stage == "full" and warper is None:
        stage1 = latest_checkpoint(Path(out_dir).parent / "warper")
        warper = stage1
    kw = {
        "cfg": cfg,
        "out_dir": out_dir,
        "lmdb_root": lmdb_root,
        "resume": resume,
        "require": require,
        "device": device,
        "warper": warper,
    }
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # under torchrun
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return _run(dist.get_rank(), world, kw)
    if nproc > 1:
        from tfk.distributed import free_port, spawn_local

        spawn_local(_spawned, nproc, (nproc, free_port(), kw))
        return {"iterations": cfg.iterations, "world": nproc}
    return _run(0, 1, kw)
