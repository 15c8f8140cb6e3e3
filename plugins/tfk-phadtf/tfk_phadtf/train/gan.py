"""Personalisation of the memory-augmented GAN (``train_19news_1.py`` -> ``train.py --model memory_seq``).

Pairs k = 2..n_train-1: A = the blends of frames k-2, k-1, k (``renderold_bm``), B = frame k's crop, the identity
feature of frame k. Loader: LANCZOS resize to 286, one random 256 crop and flip shared by A, B and the memory's
query image (A_t, ImageNet-normalised). Per step: memory hinge loss + Adam step -> memory update -> forward ->
D step (0.5 (BCE fake + BCE real)) -> G step (GAN + 100 L1 + λ_mask mean(att) + 1e-5 TV(att)). Batch 1,
Adam(1e-4, β1 0.5) for G, D and memory; the LR is constant for the 60 epochs (niter 60, niter_decay 0).
Each epoch writes ``{epoch}_net_{G,D,mem}.pth`` (published layouts; earlier epochs removed) and ``gan_state.pt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from tfk.errors import BadInput
from tfk_phadtf.train.common import Scalars, load_state
from tfk_phadtf.train.config import GanConfig

STATE = "gan_state.pt"


class Pairs:
    """The training pairs of a subject, with the original loader's augmentation."""

    def __init__(self, sub, cfg: GanConfig):
        self.sub, self.cfg = sub, cfg
        self.ks = list(range(2, sub.n_train))
        if not self.ks:
            raise BadInput("too few training frames for the GAN (needs at least 3)")
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ks)

    def _img(self, kind: str, k: int) -> np.ndarray:
        import cv2

        key = (kind, k)
        if key not in self._cache:
            name = f"frame{k}_renderold_bm.png" if kind == "A" else f"frame{k}.png"
            img = self.sub.image("blend" if kind == "A" else "renders", name)
            size = self.cfg.load_size
            self._cache[key] = cv2.resize(img, (size, size), interpolation=cv2.INTER_LANCZOS4)
        return self._cache[key]

    def get(self, i: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        from tfk_phadtf.models.memory import imagenet_normalise

        k = self.ks[i]
        c, size = self.cfg.crop_size, self.cfg.load_size
        x0, y0 = int(rng.integers(0, size - c + 1)), int(rng.integers(0, size - c + 1))
        flip = bool(rng.random() > 0.5)

        def prep(img: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(img[y0 : y0 + c, x0 : x0 + c])).permute(2, 0, 1).float()
            return t.flip(-1) if flip else t

        a = [prep(self._img("A", j)) for j in (k - 2, k - 1, k)]
        return {
            "A": torch.cat([t / 127.5 - 1 for t in a], 0)[None],
            "B": (prep(self._img("B", k)) / 127.5 - 1)[None],
            "feat": torch.from_numpy(self.sub.identity[k : k + 1].astype(np.float32)),
            "query": imagenet_normalise(a[-1][None] / 255.0),
            "index": torch.tensor([k]),
        }


def tv(att: torch.Tensor) -> torch.Tensor:
    return (att[..., :-1] - att[..., 1:]).abs().sum() + (att[..., :-1, :] - att[..., 1:, :]).abs().sum()


def gan_step(nets, opts, batch, cfg: GanConfig) -> dict[str, float]:
    g, d, mem = nets
    opt_g, opt_d, opt_m = opts
    a, b, feat, q_in = batch["A"], batch["B"], batch["feat"], batch["query"]
    opt_m.zero_grad(set_to_none=True)
    loss_mem = mem.unsupervised_loss(mem(q_in), feat, cfg.iden_thres)
    loss_mem.backward()
    opt_m.step()
    with torch.no_grad():
        mem.update(mem(q_in), feat, cfg.iden_thres, batch["index"])
    color, att = g(a, feat)
    fake = att * a[:, -3:] + (1 - att) * color
    for p in d.parameters():
        p.requires_grad_(True)
    opt_d.zero_grad(set_to_none=True)
    pf, pr = d(torch.cat([a, fake.detach()], 1)), d(torch.cat([a, b], 1))
    loss_d = 0.5 * (
        F.binary_cross_entropy_with_logits(pf, torch.zeros_like(pf))
        + F.binary_cross_entropy_with_logits(pr, torch.ones_like(pr))
    )
    loss_d.backward()
    opt_d.step()
    for p in d.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    pf = d(torch.cat([a, fake], 1))
    l_gan = F.binary_cross_entropy_with_logits(pf, torch.ones_like(pf))
    l_l1 = F.l1_loss(fake, b) * cfg.lambda_l1
    l_att = att.mean() * cfg.lambda_mask
    l_tv = tv(att) * cfg.lambda_mask_smooth
    loss_g = l_gan + l_l1 + l_att + l_tv
    loss_g.backward()
    opt_g.step()
    vals = {"G": loss_g, "G_L1": l_l1, "G_GAN": l_gan, "D": loss_d, "mem": loss_mem}
    return {k: float(v.detach()) for k, v in vals.items()}


def train_gan(
    sub,
    init: dict[str, Path],
    out: Path,
    cfg: GanConfig,
    resume: bool = True,
    device: str = "cpu",
    log_dir: Path | None = None,
    progress=None,
) -> dict:
    from tfk_phadtf.models import checkpoint as ck

    out.mkdir(parents=True, exist_ok=True)
    pairs = Pairs(sub, cfg)
    steps = len(pairs) if cfg.max_steps is None else min(len(pairs), cfg.max_steps)
    state = load_state(out / STATE) if resume else None
    start = int(state["epoch"]) if state is not None else 0
    src = (
        {k: out / f"{start}_net_{k}.pth" for k in ("G", "D", "mem")}
        if state
        else {"G": init["net_g"], "D": init["net_d"], "mem": init["net_mem"]}
    )
    g = ck.load_generator(src["G"]).to(device).train()
    d = ck.load_discriminator(src["D"]).to(device).train()
    mem = ck.load_memory(src["mem"]).to(device).train()
    opts = (
        torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999)),
        torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999)),
        torch.optim.Adam([p for p in mem.parameters() if p.requires_grad], lr=cfg.lr, betas=(cfg.beta1, 0.999)),
    )
    if state is not None:
        for o, key in zip(opts, ("opt_G", "opt_D", "opt_mem"), strict=True):
            o.load_state_dict(state[key])
    history = [float(v) for v in state["history"]] if state is not None else []
    tb = Scalars(log_dir)
    task = progress.task("memory GAN", total=(cfg.epochs - start) * steps) if progress is not None else None
    bar = task.__enter__() if task is not None else None
    try:
        for epoch in range(start, cfg.epochs):
            torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout and the memory's age noise
            rng = np.random.default_rng(cfg.seed * 100_003 + epoch)
            order = rng.permutation(len(pairs))[:steps]
            l1 = []
            for s, i in enumerate(order):
                batch = {k: v.to(device) for k, v in pairs.get(int(i), rng).items()}
                losses = gan_step((g, d, mem), opts, batch, cfg)
                l1.append(losses["G_L1"])
                for name, v in losses.items():
                    tb.add(f"gan/{name}", v, epoch * steps + s)
                if bar is not None:
                    bar.advance(1)
            history.append(float(np.mean(l1)))
            e = epoch + 1
            ck.save(g.state_dict(), out / f"{e}_net_G.pth")
            ck.save(d.state_dict(), out / f"{e}_net_D.pth")
            ck.save(mem.checkpoint(), out / f"{e}_net_mem.pth")
            ck.save(
                {
                    "epoch": e,
                    "opt_G": opts[0].state_dict(),
                    "opt_D": opts[1].state_dict(),
                    "opt_mem": opts[2].state_dict(),
                    "history": torch.tensor(history),
                },
                out / STATE,
            )
            for k in ("G", "D", "mem"):
                (out / f"{epoch}_net_{k}.pth").unlink(missing_ok=True)
    finally:
        if task is not None:
            task.__exit__(None, None, None)
        tb.close()
    return {"checkpoint": str(out / f"{cfg.epochs}_net_G.pth"), "l1_per_epoch": history}
