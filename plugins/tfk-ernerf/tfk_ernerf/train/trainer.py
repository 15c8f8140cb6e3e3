"""The three ER-NeRF training stages (head, lips, torso) with the original losses, schedules and EMA.

One image per step; epochs are passes over the training frames in a seeded random order. After every
epoch ``ngp_ep{epoch:04d}.pth`` (original layout + ``tfk``: config, RNG states) is written atomically and
the oldest beyond ``keep_checkpoints`` removed, so an interrupted run resumes from its last epoch and
replays the same steps. ``ngp.pth`` (current weights, no ``density_grid``) is written at each evaluation
and at the end of the stage, with a preview PNG of the render beside the ground truth.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tfk.errors import ConfigError, InputNotFound
from tfk_ernerf.data import Frame, Subject, canonical_frontend, rect_mask
from tfk_ernerf.models.checkpoint import atomic_save, best_state, checkpoint_frontend, load_state, read_checkpoint
from tfk_ernerf.models.network import ERNeRF, NetConfig
from tfk_ernerf.render.cameras import bg_coords, get_rays
from tfk_ernerf.render.occupancy import bitfield_from_grid, mark_untrained, update_density_grid, update_torso_grid
from tfk_ernerf.render.renderer import Conditioning, render_frame, render_rays, render_torso, test_conditioning
from tfk_ernerf.train.config import TrainConfig
from tfk_ernerf.train.ema import EMA

log = logging.getLogger("tfk.ernerf.train")
_EPOCH_RE = re.compile(r"^ngp_ep(\d{4,})\.pth$")


def _at_least(rect: list[int], size: int, h: int, w: int) -> tuple[int, int, int, int]:
    """Grow a ``[x0, x1, y0, y1]`` (x = row) square about its centre to at least ``size`` px, inside the image."""
    x0, x1, y0, y1 = rect
    out = []
    for a, b, lim in ((x0, x1, h), (y0, y1, w)):
        n = min(max(b - a, size, 1), lim)
        c = (a + b) // 2
        lo = min(max(c - n // 2, 0), lim - n)
        out += [lo, lo + n]
    return out[0], out[1], out[2], out[3]


def epoch_checkpoints(ckpt_dir: Path) -> list[Path]:
    """``ngp_ep####.pth`` files sorted by epoch."""
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := _EPOCH_RE.match(p.name))]
    return [p for _, p in sorted(found)]


@dataclass
class StageResult:
    stage: str
    directory: Path
    best: Path
    global_step: int
    losses: list[float]
    mse: list[float]  #: per-step photometric MSE (the total loss also has terms that grow with the step)
    psnr: float | None
    seconds: float
    steps_per_s: float
    note: str | None = None


class _Board:
    """TensorBoard scalars/images when ``tensorboard`` is installed; otherwise a no-op (noted once)."""

    def __init__(self, logdir: Path):
        self.w = None
        try:
            import sys
            import types

            # tensorboard imports TensorFlow when it is installed (seconds, and noisy); its stub is enough here
            sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
            from torch.utils.tensorboard import SummaryWriter

            self.w = SummaryWriter(str(logdir))
        except Exception as exc:  # tensorboard missing or broken
            log.info("TensorBoard logging skipped (%s)", exc)

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.w is not None:
            self.w.add_scalar(tag, value, step)

    def image(self, tag: str, img: np.ndarray, step: int) -> None:
        if self.w is not None:
            self.w.add_image(tag, img, step, dataformats="HWC")

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


class Trainer:
    """One stage of one subject. ``stage`` in head | lips | torso; ``workdir`` holds ``checkpoints/``."""

    def __init__(
        self,
        train: Subject,
        val: Subject | None,
        workdir: Path,
        stage: str,
        cfg: TrainConfig,
        device: str = "cpu",
        head_ckpt: Path | None = None,
        lpips_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        progress: Any = None,
    ):
        self.train, self.val, self.stage, self.cfg = train, val, stage, cfg
        self.device = torch.device(device)
        self.workdir = Path(workdir)
        self.ckpt_dir = self.workdir / "checkpoints"
        self.progress = progress
        self.lpips_fn = lpips_fn
        n = len(train)
        net = NetConfig(audio_in_dim=int(train.features.shape[1]), torso=stage == "torso")
        if n >= net.ind_num:
            net.ind_num = 20000 if n < 20000 else n + 1  # the Avatar's rule for clips over 6.6 min
        self.net_cfg = net
        torch.manual_seed(cfg.seed)
        self.model = ERNeRF(net).to(self.device)
        if stage == "torso":
            if head_ckpt is None:
                raise ConfigError("the torso stage needs a trained head", hint="tfk train ernerf --stage head")
            ck = read_checkpoint(head_ckpt)
            load_state(self.model, ck["model"], allow_missing_torso=True, src=str(head_ckpt))
            self.model.mean_density = float(ck.get("mean_density", 0.0) or 0.0)
            for p in self.model.head_parameters():
                p.requires_grad_(False)
        groups = self.model.param_groups(cfg.lr, cfg.lr_net)
        self.optimizer = torch.optim.AdamW(groups, betas=(0.0, 0.99), eps=1e-8)
        self.iters = {"head": cfg.iters_head, "lips": cfg.iters_lips, "torso": cfg.iters_torso}[stage]
        base = 0.05 if stage == "lips" else 0.5
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda it: base ** (it / self.iters))
        self.use_amp = cfg.fp16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.ema = EMA(list(self.model.parameters()), cfg.ema_decay)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.epoch = 0
        self.global_step = 0
        self.stats: dict[str, Any] = {
            "loss": [],
            "valid_loss": [],
            "results": [],
            "checkpoints": [],
            "best_result": None,
        }
        self.board = _Board(self.workdir / "run" / "ngp")
        self._grid_marked = False
        self.last_mse = float("nan")

    # -- checkpoints ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {
            "net": self.net_cfg.to_dict(),
            "train": self.cfg.to_dict(),
            "stage": self.stage,
            "frontend": self.train.frontend,
            "feature_file": self.train.feature_file,
            "data_dir": str(self.train.data_dir),
            "size": [self.train.h, self.train.w],
            "intrinsics": list(self.train.intrinsics),
            "eye_source": self.train.eye_source,
        }

    def _common(self) -> dict[str, Any]:
        d = {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "stats": self.stats,
            "mean_count": int(self.model.mean_count),
            "mean_density": float(self.model.mean_density),
        }
        if self.net_cfg.torso:
            d["mean_density_torso"] = float(self.model.mean_density_torso)
        return d

    def save_epoch(self) -> Path:
        ck = self._common()
        ck.update(
            model={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            optimizer=self.optimizer.state_dict(),
            lr_scheduler=self.scheduler.state_dict(),
            scaler=self.scaler.state_dict(),
            ema=self.ema.state_dict(),
            tfk={
                **self._meta(),
                "rng": self.gen.get_state(),
                "torch_rng": torch.get_rng_state(),
                "grid_marked": self._grid_marked,
            },
        )
        path = atomic_save(ck, self.ckpt_dir / f"ngp_ep{self.epoch:04d}.pth")
        for old in epoch_checkpoints(self.ckpt_dir)[: -self.cfg.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path

    def save_best(self) -> Path:
        ck = self._common()
        ck["model"] = best_state(self.model)
        ck["tfk"] = self._meta()
        return atomic_save(ck, self.ckpt_dir / "ngp.pth")

    def load_epoch(self, path: Path, restore_optim: bool = True) -> None:
        ck = read_checkpoint(path)
        load_state(self.model, ck["model"], src=str(path))
        self.epoch = int(ck["epoch"])
        self.global_step = int(ck["global_step"])
        self.stats = ck.get("stats") or self.stats
        self.model.mean_count = int(ck.get("mean_count", 0))
        self.model.mean_density = float(ck.get("mean_density", 0.0))
        self.model.mean_density_torso = float(ck.get("mean_density_torso", 0.0) or 0.0)
        if restore_optim and ck.get("optimizer"):
            try:
                self.optimizer.load_state_dict(ck["optimizer"])
                self.scheduler.load_state_dict(ck["lr_scheduler"])
                if ck.get("scaler"):
                    self.scaler.load_state_dict(ck["scaler"])
                if ck.get("ema"):
                    self.ema.load_state_dict(ck["ema"])
            except (ValueError, KeyError) as exc:
                raise ConfigError(f"cannot resume from {path}: optimizer state does not match ({exc})") from None
        meta = ck.get("tfk") or {}
        if "rng" in meta:
            self.gen.set_state(meta["rng"])
            torch.set_rng_state(meta["torch_rng"])
        self._grid_marked = bool(meta.get("grid_marked", True))

    # -- helpers --------------------------------------------------------------------------------
    def _cond(self, frame: Frame, subject: Subject, training: bool) -> Conditioning:
        dev = self.device
        enc_a = self.model.encode_audio(subject.audio(frame, self.net_cfg.att).to(dev))
        e = subject.eye_of(frame)
        if training:
            e += float(torch.rand(1, generator=self.gen) * 0.1 - 0.05)
        eye = torch.tensor([[e]], device=dev)
        m = self.model
        code = m.individual_codes[frame.index][None] if (training and self.net_cfg.ind_dim) else None
        if not training and self.net_cfg.ind_dim:
            code = m.individual_codes[0][None]
        code_t = None
        if self.net_cfg.torso and self.net_cfg.ind_dim_torso:
            code_t = m.individual_codes_torso[frame.index if training else 0][None]
        return Conditioning(enc_a, code, eye, code_t)

    def _update_extra_state(self) -> None:
        m, gen = self.model, self.gen
        idx = int(torch.randint(0, len(self.train), (1,), generator=gen))
        frame = self.train.frames[idx]
        with torch.no_grad():
            cond = self._cond(frame, self.train, training=False)
            if self.stage == "torso":
                code_t = m.individual_codes_torso[idx][None] if self.net_cfg.ind_dim_torso else None
                pose = frame.pose.to(self.device)[None]
                update_torso_grid(m.density_grid_torso, lambda c: m.forward_torso(c, pose, code_t)[0])
                m.mean_density_torso = float(m.density_grid_torso.mean())
                return
            if not self._grid_marked:
                poses = self.train.poses.to(self.device)
                mark_untrained(
                    m.density_grid, poses, self.train.intrinsics, m.cfg.bound, eval_res=self.cfg.grid_eval_res
                )
                self._grid_marked = True

            def sigma(x: torch.Tensor) -> torch.Tensor:
                return m.density(x, cond.enc_a, cond.eye)["sigma"]

            update_density_grid(m.density_grid, sigma, m.cfg.bound, generator=gen, eval_res=self.cfg.grid_eval_res)
            m.density_bitfield.copy_(bitfield_from_grid(m.density_grid, m.cfg.density_thresh)[0])
            m.mean_density = float(m.density_grid[0].clamp(min=0).mean())

    def _lpips(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """LPIPS on ``[B,3,h,w]`` in [0,1] (mapped to [-1,1]); inputs under 32 px are upsampled (AlexNet minimum)."""
        if self.lpips_fn is None:
            return torch.zeros((), device=pred.device)
        if min(pred.shape[-2:]) < 32:
            size = (max(32, pred.shape[-2]), max(32, pred.shape[-1]))
            pred = F.interpolate(pred, size=size, mode="bilinear", align_corners=False)
            gt = F.interpolate(gt, size=size, mode="bilinear", align_corners=False)
        return self.lpips_fn(pred * 2 - 1, gt * 2 - 1).mean()

    # -- steps ----------------------------------------------------------------------------------
    def _pixels(self, frame: Frame, lips_mode: bool | None) -> tuple[torch.Tensor, tuple[int, ...] | None]:
        """Pixel indices of this step and, for LPIPS, the image shape they form."""
        h, w, gen, cfg = self.train.h, self.train.w, self.gen, self.cfg
        if lips_mode is True:
            x0, x1, y0, y1 = _at_least(self.train.rects(frame)["lips"], cfg.patch_size, h, w)
            rr, cc = torch.meshgrid(torch.arange(x0, x1), torch.arange(y0, y1), indexing="ij")
            return (rr * w + cc).reshape(-1), (1, x1 - x0, y1 - y0)
        if lips_mode is False:
            p = min(cfg.patch_size, h, w)
            r0 = torch.randint(0, h - p + 1, (cfg.lips_patches,), generator=gen)
            c0 = torch.randint(0, w - p + 1, (cfg.lips_patches,), generator=gen)
            rr, cc = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
            inds = (r0[:, None, None] + rr) * w + (c0[:, None, None] + cc)
            return inds.reshape(-1), (cfg.lips_patches, p, p)
        return torch.randint(0, h * w, (cfg.num_rays,), generator=gen), None

    def _head_step(self, frame: Frame) -> torch.Tensor:
        """Head / lips step (the original ``train_step``; ``global_step`` here already counts this step)."""
        tr, dev, m, cfg = self.train, self.device, self.model, self.cfg
        step = self.global_step + 1
        s = min(step / self.iters, 1.0)
        lips_mode = None
        if self.stage == "lips":  # flips every step, starting with the lips square
            lips_mode = (self.global_step - cfg.iters_head) % 2 == 0
        inds, shape = self._pixels(frame, lips_mode)
        gt = tr.gt(frame)[inds].to(dev)
        bg = tr.bg_torso(frame)[inds].to(dev)
        o, d = get_rays(frame.pose.to(dev), tr.intrinsics, tr.h, tr.w, inds)
        cond = self._cond(frame, tr, training=True)
        jitter = torch.rand(inds.numel(), generator=self.gen).to(dev)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=self.use_amp):
            out = render_rays(m, o, d, cond, bg, "occupancy", jitter)
        pred = out["image"]
        loss_ray = ((pred - gt) ** 2).mean(dim=-1)
        self.last_mse = float(loss_ray.detach().mean())
        face = rect_mask(tr.rects(frame)["face"], tr.h, tr.w)[inds].to(dev).float()
        if self.stage == "head" and m.cfg.unc_loss:
            unc = out["uncertainty"]
            wgt = (1 - s) + s * torch.softmax(unc, dim=0).detach() * unc.numel()
            loss_ray = loss_ray * (0.2 + 0.8 * wgt.clamp(0, 10))
            beta = unc + 1
            norm_rgb = (pred - gt).norm(dim=-1).detach()
            loss_u = (norm_rgb / (2 * beta**2) + torch.log(beta) ** 2 / 2) * face
            loss_ray = loss_ray + s * loss_u + 1e-3 * s * unc * (1 - face)
        loss = loss_ray.mean()
        if shape is not None:
            b, ph, pw = shape
            pi = pred.reshape(b, ph, pw, 3).permute(0, 3, 1, 2)
            gi = gt.reshape(b, ph, pw, 3).permute(0, 3, 1, 2)
            loss = loss + (0.01 if lips_mode else 0.1) * self._lpips(pi, gi)
        alpha = out["weights_sum"].clamp(1e-5, 1 - 1e-5)
        loss = loss + 1e-4 * (-alpha * torch.log2(alpha) - (1 - alpha) * torch.log2(1 - alpha)).mean()
        lambda_amb = s * 1e-4
        loss = loss + lambda_amb * (out["ambient_aud"] * (1 - face)).mean()
        eye_term = out["ambient_eye"] / m.cfg.max_steps * out["ambient_aud"].detach()
        loss = loss + lambda_amb * (eye_term * face).mean()
        if self.stage == "head" and step % 16 == 0 and out["xyzs"].shape[0] > 0:
            loss = loss + self._smooth_loss(out["xyzs"], out["dirs"], cond, s)
        return loss

    def _smooth_loss(self, xyzs: torch.Tensor, dirs: torch.Tensor, cond: Conditioning, s: float) -> torch.Tensor:
        """``1e-5 s`` MSE of uncertainty / ambient outputs at the marched samples and at samples moved by U(+-1e-3)."""
        m = self.model
        delta = (torch.rand(xyzs.shape, generator=self.gen).to(xyzs) * 2 - 1) * 1e-3
        enc_a = cond.enc_a.detach()
        code = cond.code.detach() if cond.code is not None else None
        with torch.no_grad():
            raw = m(xyzs, dirs, enc_a, code, cond.eye)
        reg = m(xyzs + delta, dirs, enc_a, code, cond.eye)
        total = F.mse_loss(reg["uncertainty"], raw["uncertainty"]) + F.mse_loss(reg["ambient_aud"], raw["ambient_aud"])
        if reg["ambient_eye"] is not None:
            total = total + F.mse_loss(reg["ambient_eye"], raw["ambient_eye"])
        return 1e-5 * s * total

    def _torso_step(self, frame: Frame) -> torch.Tensor:
        tr, dev, m = self.train, self.device, self.model
        inds = torch.randint(0, tr.h * tr.w, (self.cfg.num_rays,), generator=self.gen)
        torso = tr.torso(frame)[inds].to(dev)
        bc = tr.bc[inds].to(dev)
        gt = torso[:, :3] * torso[:, 3:] + bc * (1 - torso[:, 3:])
        cond = self._cond(frame, tr, training=True)
        coords = bg_coords(tr.h, tr.w, inds).to(dev)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=self.use_amp):
            out = render_torso(m, coords, frame.pose.to(dev), bc, cond.code_torso)
        loss = ((out["bg"] - gt) ** 2).mean()
        self.last_mse = float(loss.detach())
        return loss + ((1 - m.anchor_points[:, 3]) ** 2).mean()

    def step(self, frame: Frame) -> float:
        self.model.train()
        if self.global_step % self.cfg.update_extra_interval == 0:
            self._update_extra_state()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._torso_step(frame) if self.stage == "torso" else self._head_step(frame)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.global_step += 1
        if self.global_step % self.cfg.ema_update_interval == 0:
            self.ema.update()
        return float(loss.detach())

    # -- evaluation -----------------------------------------------------------------------------
    @torch.no_grad()
    def render(self, subject: Subject, frame: Frame, marcher: str = "occupancy") -> torch.Tensor:
        """``[H, W, 3]`` render of one frame at test settings (code 0, GT torso over bc as the head's bg)."""
        m = self.model
        m.eval()
        m.testing = True
        try:
            cond = test_conditioning(m, subject.audio(frame, self.net_cfg.att), subject.eye_of(frame))
            bg = subject.bc if self.net_cfg.torso else subject.bg_torso(frame)
            r = render_frame(
                m,
                frame.pose.to(self.device),
                subject.intrinsics,
                subject.h,
                subject.w,
                cond,
                bg.to(self.device),
                marcher,
            )
        finally:
            m.testing = False
            m.train()
        return r["image"].cpu()

    def evaluate(self) -> float | None:
        """PSNR of the EMA weights on the first ``eval_frames`` val frames; writes ``ngp.pth`` and a preview."""
        subj = self.val if self.val is not None and len(self.val) else self.train
        frames = subj.frames[: self.cfg.eval_frames]
        self.ema.store_and_copy()
        try:
            psnrs, first = [], None
            for fr in frames:
                img = self.render(subj, fr)
                gt = subj.gt(fr).reshape(subj.h, subj.w, 3)
                mse = float(((img - gt) ** 2).mean())
                psnrs.append(-10 * math.log10(max(mse, 1e-10)))
                if first is None:
                    first = (img, gt)
        finally:
            self.ema.restore()
        psnr = float(np.mean(psnrs)) if psnrs else None
        self.stats["results"].append(psnr)
        self.save_best()
        if first is not None:
            self._preview(*first)
        if psnr is not None:
            self.board.scalar("evaluate/psnr", psnr, self.global_step)
        return psnr

    def _preview(self, img: torch.Tensor, gt: torch.Tensor) -> Path:
        import cv2

        side = torch.cat([img, gt], dim=1).clamp(0, 1).numpy()
        u8 = (side * 255 + 0.5).astype(np.uint8)
        path = self.workdir / "validation" / f"ngp_ep{self.epoch:04d}_preview.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        cv2.imwrite(str(tmp), cv2.cvtColor(u8, cv2.COLOR_RGB2BGR))
        tmp.replace(path)
        (self.workdir / "preview.png").unlink(missing_ok=True)
        (self.workdir / "preview.png").write_bytes(path.read_bytes())
        self.board.image("evaluate/render_vs_gt", u8, self.global_step)
        return path

    # -- loop -----------------------------------------------------------------------------------
    def _epochs(
        self, handle: Any, stop_after_epochs: int | None, eval_every: int, losses: list[float], mses: list[float]
    ) -> int:
        n = len(self.train)
        epochs_run = 0
        while self.global_step < self.iters:
            self.epoch += 1
            order = torch.randperm(n, generator=self.gen).tolist()
            ep_losses = []
            for i in order:
                if self.global_step >= self.iters:
                    break
                loss = self.step(self.train.frames[i])
                ep_losses.append(loss)
                losses.append(loss)
                mses.append(self.last_mse)
                self.board.scalar("train/loss", loss, self.global_step)
                self.board.scalar("train/mse", self.last_mse, self.global_step)
                self.board.scalar("train/lr", self.optimizer.param_groups[0]["lr"], self.global_step)
                if handle is not None:
                    handle.advance(1)
            self.stats["loss"].append(float(np.mean(ep_losses)) if ep_losses else None)
            self.save_epoch()
            if self.epoch % eval_every == 0 and self.global_step < self.iters:
                self.evaluate()
            epochs_run += 1
            if stop_after_epochs is not None and epochs_run >= stop_after_epochs and self.global_step < self.iters:
                break
        return epochs_run

    def fit(self, stop_after_epochs: int | None = None) -> StageResult:
        """Train up to the stage's last step (resuming from the last epoch checkpoint of ``workdir``)."""
        n = len(self.train)
        eval_every = self.cfg.eval_interval or max(1, 5000 // n)
        losses: list[float] = []
        mses: list[float] = []
        t0, s0 = time.monotonic(), self.global_step
        with contextlib.ExitStack() as stack:
            handle = None
            if self.progress is not None:
                handle = stack.enter_context(self.progress.task(f"train {self.stage}", total=self.iters))
                if self.global_step:
                    handle.advance(self.global_step)
            self._epochs(handle, stop_after_epochs, eval_every, losses, mses)
        done = self.global_step >= self.iters
        psnr = self.evaluate() if done else None
        if not done:
            self.save_best()
        dt = time.monotonic() - t0
        self.board.close()
        return StageResult(
            self.stage,
            self.workdir,
            self.ckpt_dir / "ngp.pth",
            self.global_step,
            losses,
            mses,
            psnr,
            dt,
            (self.global_step - s0) / dt if dt > 0 else 0.0,
        )


def stage_dir(root: Path, stage: str) -> Path:
    """Head and lips share a directory (the lips stage continues the head run); the torso has its own."""
    return Path(root) / ("torso" if stage == "torso" else "head")


def bound_frontend(out_root: Path, stage: str, resume: bool, frontend: str | None) -> str | None:
    """The front-end a stage must train on: the one its earlier checkpoint was trained with (the head's for the
    lips and torso, the stage's own when it resumes). ``frontend`` None takes it; a different one is an error."""
    head = stage_dir(out_root, "head") / "checkpoints"
    if stage == "head":
        prior = epoch_checkpoints(head)[-1:] if resume else []
    elif stage == "lips":
        prior = epoch_checkpoints(head)[-1:]
    else:
        prior = epoch_checkpoints(stage_dir(out_root, "torso") / "checkpoints")[-1:] if resume else []
        prior = prior or [p for p in (head / "ngp.pth",) if p.is_file()]
    if not prior:
        return frontend
    fe = checkpoint_frontend(read_checkpoint(prior[0]))
    if fe is None or frontend is None:
        return frontend or fe
    if canonical_frontend(frontend) != fe:
        own = stage == "head" or (stage == "torso" and prior[0].parent.parent.name == "torso")
        hint = f"--audio-features {fe}" + (
            f", or --no-resume to train the {stage} again" if own else f", or train the head on {frontend} first"
        )
        raise ConfigError(f"{prior[0]} was trained on {fe} audio features, not {frontend}", hint=hint)
    return fe


def run_stage(
    data_dir: Path,
    out_root: Path,
    stage: str,
    cfg: TrainConfig,
    device: str = "cpu",
    resume: bool = True,
    frontend: str | None = None,
    lpips_fn: Callable | None = None,
    progress: Any = None,
    stop_after_epochs: int | None = None,
) -> StageResult:
    """Train one stage of the subject in ``data_dir``; checkpoints under ``out_root/<head|torso>/checkpoints``.

    ``frontend`` (``deepspeech``, ``hubert``, ``wav2vec``; None: the one an earlier checkpoint of this model was
    trained with, else the features the subject has) picks the audio features and so the network's audio width.
    """
    frontend = bound_frontend(out_root, stage, resume, frontend)
    train = Subject.load(data_dir, "train", frontend)
    val = Subject.load(data_dir, "val", train.frontend) if (Path(data_dir) / "transforms_val.json").is_file() else None
    work = stage_dir(out_root, stage)
    head_ckpt = None
    if stage == "torso":
        head_ckpt = stage_dir(out_root, "head") / "checkpoints" / "ngp.pth"
        if not head_ckpt.is_file():
            raise InputNotFound("no trained head for the torso stage", hint="tfk train ernerf --uid UID --stage head")
    tr = Trainer(train, val, work, stage, cfg, device, head_ckpt, lpips_fn, progress)
    ckpts = epoch_checkpoints(tr.ckpt_dir)
    if stage == "lips":
        if not ckpts:
            raise InputNotFound(
                "the lips stage continues a trained head; none found", hint="tfk train ernerf --stage head"
            )
        tr.load_epoch(ckpts[-1])
        if tr.global_step < cfg.iters_head:
            raise ConfigError(
                f"the head run stopped at step {tr.global_step} of {cfg.iters_head}; finish it first",
                hint="tfk train ernerf --stage head",
            )
    elif ckpts and resume:
        tr.load_epoch(ckpts[-1])
    elif ckpts and not resume:
        for p in ckpts:
            p.unlink()
    return tr.fit(stop_after_epochs)
