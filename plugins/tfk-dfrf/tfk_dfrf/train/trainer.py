"""One DFRF training run: sampling as the original, three Adam optimizers, atomic resumable checkpoints."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tfk.errors import Interrupted, UsageError
from tfk_dfrf.data import Subject
from tfk_dfrf.models.audio import smoothing_windows
from tfk_dfrf.models.dfrf import DFRF, checkpoint_dict, head_checkpoints, load_model, read_checkpoint, save_checkpoint
from tfk_dfrf.render.geometry import intrinsic_matrix, pixel_rays, world_to_camera
from tfk_dfrf.train.config import TrainConfig, learning_rate
from tfk_dfrf.train.render import render_rays_train

log = logging.getLogger("tfk.dfrf.train")


class StepModule(nn.Module):
    """Loss of one prepared batch; a module so that DistributedDataParallel can wrap it."""

    def __init__(self, model: DFRF, cfg: TrainConfig):
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(self, b: dict[str, Any], gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        m, cfg = self.model, self.cfg
        if b["smooth"]:
            codes = m.audnet(b["aud_win"])
            aud = m.audattnet(codes)
        else:
            aud = m.audnet(b["aud"][None])[0]
        fmap = m.feature_extractor.encode(b["ref_images"], b["ref_poses"])
        out = render_rays_train(
            m,
            fmap,
            world_to_camera(b["ref_poses"]),
            b["intrinsic"],
            b["rays_o"],
            b["rays_d"],
            b["bc"],
            aud,
            b["near"],
            b["far"],
            cfg.n_samples,
            cfg.n_importance,
            gen=gen,
        )
        img = torch.mean((out["rgb"] - b["target"]) ** 2)
        loss = img + torch.mean((out["rgb0"] - b["target"]) ** 2) + cfg.l2_weight * out["loss_translation"]
        return loss, img


class Trainer:
    """Train ``subjects`` into ``out_dir/{step:06d}_head.tar``; see :func:`tfk_dfrf.train.train`."""

    def __init__(
        self,
        subjects: Sequence[Subject],
        out_dir: str | Path,
        cfg: TrainConfig,
        device: torch.device,
        rank: int = 0,
        world: int = 1,
        writer: Any = None,
        progress: Any = None,
        callback: Callable[[dict[str, Any]], bool | None] | None = None,
    ):
        if not subjects:
            raise UsageError("no subject to train on")
        sizes = {(s.h, s.w) for s in subjects}
        if len(sizes) > 1:
            raise UsageError(f"all subjects must have one frame size, got {sorted(sizes)}")
        for s in subjects:
            if len(s.train.img_ids) <= cfg.num_refs:
                raise UsageError(f"subject {s.name} has {len(s.train.img_ids)} training frames; need > {cfg.num_refs}")
        self.subjects = list(subjects)
        self.out = Path(out_dir)
        self.cfg = cfg
        self.device = device
        self.rank, self.world = rank, world
        self.writer, self.progress, self.callback = writer, progress, callback
        torch.manual_seed(cfg.seed)
        self.model = DFRF(num_refs=cfg.num_refs).to(device)
        self.opt = torch.optim.Adam(self.model.main_parameters(), lr=cfg.lrate, betas=(0.9, 0.999))
        self.opt_aud = torch.optim.Adam(self.model.audnet.parameters(), lr=cfg.lrate, betas=(0.9, 0.999))
        self.opt_audatt = torch.optim.Adam(self.model.audattnet.parameters(), lr=cfg.lrate * 5, betas=(0.9, 0.999))
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + rank)
        self.rng = np.random.default_rng(cfg.seed * 7919 + rank)
        self.global_step = 0
        self.start_step = 0
        self.iteration = 0  # last finished iteration (the original's loop counter i)
        self.losses: list[float] = []
        self.step_module: nn.Module = StepModule(self.model, cfg)

    # -- initialisation ----------------------------------------------------------------------------
    def init_from(self, path: str | Path) -> None:
        """Start from a base/other checkpoint as the original fine-tune does.

        Networks are loaded except Position_warp (re-initialised); the AudNet optimizer state is restored, the
        main and AudAttNet optimizer states are not; training continues from its ``global_step``.
        """
        ck = read_checkpoint(path)
        load_model(self.model, ck, path, load_warp=False)
        if ck.get("optimizer_aud_state_dict"):
            self.opt_aud.load_state_dict(ck["optimizer_aud_state_dict"])
        self.global_step = self.start_step = self.iteration = int(ck["global_step"])

    def latest_checkpoint(self) -> Path | None:
        found = list(head_checkpoints(self.out))
        return found[-1] if found else None

    def resume(self, path: str | Path) -> None:
        """Continue exactly where ``path`` left off (networks, all optimizers, RNG streams, step)."""
        ck = read_checkpoint(path)
        load_model(self.model, ck, path, load_warp=True)
        for opt, key in (
            (self.opt, "optimizer_state_dict"),
            (self.opt_aud, "optimizer_aud_state_dict"),
            (self.opt_audatt, "optimizer_audatt_state_dict"),
        ):
            if ck.get(key):
                opt.load_state_dict(ck[key])
        extra = ck.get("tfk") or {}
        if "iteration" in extra:
            self.iteration = int(extra["iteration"])
            self.start_step = int(extra.get("start_step", 0))
            self.gen.set_state(extra["torch_rng"])
            self.rng.bit_generator.state = extra["np_rng"]
            self.losses = list(extra.get("losses", []))
        else:  # an original checkpoint: the original resumes at its global_step
            self.iteration = self.start_step = int(ck["global_step"])
        self.global_step = self.iteration

    # -- one step ----------------------------------------------------------------------------------
    def smoothing(self) -> bool:
        if self.cfg.smooth != "auto":
            return self.cfg.smooth == "on"
        return self.global_step >= self.cfg.nosmo_iters

    def _select_pixels(self, s: Subject, rect: np.ndarray) -> np.ndarray:
        cfg, rng = self.cfg, self.rng
        n_pix = s.h * s.w
        if cfg.n_rand > n_pix:
            raise UsageError(f"{cfg.n_rand} rays per step exceed the {n_pix} pixels of a frame")
        rows, cols = np.divmod(np.arange(n_pix), s.w)
        x, y, w, h = (int(v) for v in rect)
        a, b = (rows, cols) if cfg.face_rect_transposed else (cols, rows)
        inside = (a >= x) & (a <= x + w) & (b >= y) & (b <= y + h)
        if cfg.sample_rate <= 0:
            return rng.choice(n_pix, size=cfg.n_rand, replace=False)
        ins, outs = np.flatnonzero(inside), np.flatnonzero(~inside)
        k = min(int(cfg.n_rand * cfg.sample_rate), ins.size)
        k = max(k, cfg.n_rand - outs.size)
        return np.concatenate(
            [rng.choice(ins, size=k, replace=False), rng.choice(outs, size=cfg.n_rand - k, replace=False)]
        )

    def batch(self) -> dict[str, Any]:
        cfg, rng, dev = self.cfg, self.rng, self.device
        s = self.subjects[int(rng.integers(len(self.subjects)))]
        tr = s.train
        n = len(tr.img_ids)
        img_i = int(rng.integers(n))
        perm = rng.permutation(np.delete(np.arange(n), img_i))[: cfg.num_refs]

        def t(a):
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=dev)

        refs = t(np.stack([s.image(tr.img_ids[j]) for j in perm])) / 255.0
        pix = self._select_pixels(s, tr.face_rects[img_i])
        rows, cols = np.divmod(pix, s.w)
        pose = t(tr.poses[img_i][:3, :4])
        rays_o, rays_d = pixel_rays(pose, s.focal, s.cx, s.cy, t(cols), t(rows))
        target = t(s.image(tr.img_ids[img_i])[rows, cols]) / 255.0
        bc = t(s.background(tr.img_ids[img_i])[rows, cols]) / 255.0
        smooth = self.smoothing()
        b = {
            "smooth": smooth,
            "ref_images": refs,
            "ref_poses": t(tr.poses[perm][:, :3, :4]),
            "intrinsic": intrinsic_matrix(s.focal, s.h, s.w, device=dev),
            "rays_o": rays_o,
            "rays_d": rays_d,
            "target": target,
            "bc": bc,
            "near": s.near,
            "far": s.far,
        }
        rows_aud = s.aud[tr.aud_ids]
        if smooth:
            idx, valid = smoothing_windows(n, 8)
            b["aud_win"] = t(rows_aud[idx[img_i].numpy()] * valid[img_i].numpy()[:, None, None])
        else:
            b["aud"] = t(rows_aud[img_i])
        return b

    def step(self) -> float:
        lr = learning_rate(self.cfg, max(self.global_step - 1, 0))
        for opt, f in ((self.opt, 1.0), (self.opt_aud, 1.0), (self.opt_audatt, 5.0)):
            for g in opt.param_groups:
                g["lr"] = lr * f
        b = self.batch()
        self.model.train()
        loss, img = self.step_module(b, self.gen)
        for opt in (self.opt, self.opt_aud, self.opt_audatt):
            opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.opt_aud.step()
        if b["smooth"]:
            self.opt_audatt.step()
        self.iteration += 1
        self.global_step += 1
        value = float(loss.detach())
        self.losses.append(value)
        if self.writer is not None:
            self.writer.add_scalar("loss", value, self.iteration)
            self.writer.add_scalar("psnr", -10 * math.log10(max(float(img.detach()), 1e-10)), self.iteration)
            self.writer.add_scalar("lr", lr, self.iteration)
        return value

    # -- checkpoints -------------------------------------------------------------------------------
    def save(self) -> Path | None:
        if self.rank != 0:
            return None
        extra = {
            "iteration": self.iteration,
            "start_step": self.start_step,
            "torch_rng": self.gen.get_state(),
            "np_rng": self.rng.bit_generator.state,
            "config": asdict(self.cfg),
            "subjects": [s.name for s in self.subjects],
            "losses": self.losses[-1000:],
        }
        # the original stores global_step = i - 1 in {i:06d}_head.tar
        ck = checkpoint_dict(
            self.model, self.iteration - 1, {"main": self.opt, "aud": self.opt_aud, "audatt": self.opt_audatt}, extra
        )
        return save_checkpoint(ck, self.out / f"{self.iteration:06d}_head.tar")

    def run(self) -> Path:
        end = self.start_step + self.cfg.steps
        last = None
        try:
            while self.iteration < end:
                value = self.step()
                if self.progress is not None and hasattr(self.progress, "advance"):
                    self.progress.advance(1)
                if self.iteration % self.cfg.i_print == 0 and self.rank == 0:
                    log.info("step %d loss %.5f", self.iteration, value)
                if self.iteration % self.cfg.i_weights == 0:
                    last = self.save()
                stop = self.callback({"step": self.iteration, "loss": value}) if self.callback else None
                if stop:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            self.save()
            raise Interrupted("training interrupted; checkpoint saved", hint="run the same command to resume") from None
        if last is None or self.iteration % self.cfg.i_weights != 0:
            last = self.save()
        return last if last is not None else self.out / f"{self.iteration:06d}_head.tar"
