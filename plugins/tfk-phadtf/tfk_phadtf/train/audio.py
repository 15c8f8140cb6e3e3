"""Personalisation of the audio network (``train_19news_1.py`` -> ``atcnet.py``), resumable per epoch.

Data: the clip's MFCC windows and coefficients of frames 0..n_train-1; 16-frame sequences (every start), batch 16,
shuffled, ``drop_last``. Targets (70): exp 80:144, angle 224:227, trans 254:257 with tz - 0.5 (relativeframe 0).
Loss: MSE(exp) + 0.2 MSE(pose) + 0.01 mean_b Σ(Δpose)² + 1e-4 mean_b Σ(Δexp)². Adam(1e-4, β 0.5/0.999).
Each epoch writes ``atcnet_lstm_{epoch}.pth`` (plain state dict; the previous one is removed, as the original
keeps only the last) and ``audio_state.pt`` (optimizer + epoch). Shuffling is seeded per epoch, so a resumed run
continues bit-for-bit where an uninterrupted one would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tfk.errors import BadInput
from tfk_phadtf.models.atcnet import EXP_DIM
from tfk_phadtf.train.common import Scalars, load_state
from tfk_phadtf.train.config import AudioConfig

STATE = "audio_state.pt"


def targets(coeffs: np.ndarray) -> np.ndarray:
    t = np.concatenate([coeffs[:, 80:144], coeffs[:, 224:227], coeffs[:, 254:257]], 1).astype(np.float32)
    t[:, -1] -= 0.5
    return t


def loss_fn(pred: torch.Tensor, tgt: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    mse = torch.nn.functional.mse_loss
    loss = mse(pred[..., :EXP_DIM], tgt[..., :EXP_DIM]) + cfg.lambda_pose * mse(pred[..., EXP_DIM:], tgt[..., EXP_DIM:])
    dp = pred[:, 1:, EXP_DIM:] - pred[:, :-1, EXP_DIM:]
    de = pred[:, 1:, :EXP_DIM] - pred[:, :-1, :EXP_DIM]
    return (
        loss + cfg.lambda_smooth * dp.square().sum((1, 2)).mean() + cfg.lambda_smooth2 * de.square().sum((1, 2)).mean()
    )


def sequences(windows: np.ndarray, coeffs: np.ndarray, n_train: int, seq_len: int):
    n = min(n_train, len(windows), len(coeffs))
    if n < seq_len:
        raise BadInput(f"only {n} training frames; the audio network needs sequences of {seq_len}")
    x = torch.from_numpy(np.ascontiguousarray(windows[:n], np.float32))
    y = torch.from_numpy(targets(coeffs[:n]))
    return x, y, n - seq_len + 1


def train_audio(
    sub,
    init: Path,
    out: Path,
    cfg: AudioConfig,
    resume: bool = True,
    device: str = "cpu",
    log_dir: Path | None = None,
    progress=None,
) -> dict:
    from tfk_phadtf.models import checkpoint as ck

    out.mkdir(parents=True, exist_ok=True)
    x, y, n_seq = sequences(sub.mfcc_windows, sub.coeffs, sub.n_train, cfg.seq_len)
    steps = n_seq // cfg.batch_size
    if steps < 1:
        raise BadInput(f"{n_seq} training sequences are fewer than one batch of {cfg.batch_size}")
    if cfg.max_steps is not None:
        steps = min(steps, cfg.max_steps)
    state = load_state(out / STATE) if resume else None
    start = 0
    if state is not None:
        start = int(state["epoch"])
        net = ck.load_atcnet(out / f"atcnet_lstm_{start - 1}.pth")
    else:
        net = ck.load_atcnet(init)
    net = net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=cfg.betas)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
    tb = Scalars(log_dir)
    history = [float(v) for v in state["history"]] if state is not None else []
    task = progress.task("audio network", total=(cfg.epochs - start) * steps) if progress is not None else None
    bar = task.__enter__() if task is not None else None
    try:
        for epoch in range(start, cfg.epochs):
            g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            order = torch.randperm(n_seq, generator=g)
            losses = []
            for s in range(steps):
                starts = order[s * cfg.batch_size : (s + 1) * cfg.batch_size]
                idx = starts[:, None] + torch.arange(cfg.seq_len)[None]
                loss = loss_fn(net(x[idx].to(device)), y[idx].to(device), cfg)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                tb.add("audio/loss", losses[-1], epoch * steps + s)
                if bar is not None:
                    bar.advance(1)
            history.append(float(np.mean(losses)))
            ck.save(net.state_dict(), out / f"atcnet_lstm_{epoch}.pth")
            ck.save({"epoch": epoch + 1, "optimizer": opt.state_dict(), "history": torch.tensor(history)}, out / STATE)
            (out / f"atcnet_lstm_{epoch - 1}.pth").unlink(missing_ok=True)
    finally:
        if task is not None:
            task.__exit__(None, None, None)
        tb.close()
    return {"checkpoint": str(out / f"atcnet_lstm_{cfg.epochs - 1}.pth"), "loss_per_epoch": history}
