"""Landmark fitting of the BFM 2009 tracker: losses, optimiser loops, the coarse fit and the joint refinements.

Used by the stages of :mod:`tfk.tdmm.tracker`; batched over frames (and focal candidates).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from tfk.tdmm.camera import PerspectiveCamera
from tfk.tdmm.model import FaceModel

if TYPE_CHECKING:
    from tfk.tdmm.tracker import TrackerConfig

log = logging.getLogger("tfk.tdmm.tracker")

__all__ = ["fit_landmarks", "lan_loss", "lap_loss", "refine_focal", "refine_joint"]


def _task(progress, description: str, total: int | None):
    from tfk.progress import ensure

    return ensure(progress).task(description, total=total)


def _advance(task, n: int = 1) -> None:
    if task is not None:
        task.advance(n)


def lan_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared pixel error over everything but the leading (candidate) dimension."""
    return (pred - target).square().flatten(1).mean(1)


def lap_loss(verts: torch.Tensor) -> torch.Tensor:
    """Temporal Laplacian ``[-0.5, 1, -0.5]`` of ``verts [T,R,3]`` (0 for fewer than 3 frames)."""
    if verts.shape[0] < 3:
        return verts.new_zeros(())
    lap = verts[1:-1] - 0.5 * (verts[:-2] + verts[2:])
    return lap.square().mean()


def _adam_steps(params, loss_fn, iters: int, lr: float, drops=(), task=None) -> None:
    """Adam for ``iters`` steps; ``drops`` = ``[(iteration, factor)]`` sets ``lr·factor`` from that iteration."""
    opt = torch.optim.Adam(params, lr=lr)
    schedule = dict(drops)
    for it in range(iters):
        if it in schedule:
            for g in opt.param_groups:
                g["lr"] = lr * schedule[it]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(it)
        loss.backward()
        opt.step()
        if task is not None and (it + 1) % 100 == 0:
            _advance(task, 100)


def _lbfgs(params, loss_fn, iters: int, tol: bool = False) -> None:
    """Quasi-Newton polish of a converged Adam solution (tfk addition; keeps the best iterate). ``tol``: run to
    the iteration limit unless the gradient or the step truly vanish (tight tolerances)."""
    best = [p.detach().clone() for p in params]
    with torch.no_grad():
        best_loss = float(loss_fn(0))
    extra = {"tolerance_grad": 1e-10, "tolerance_change": 1e-14, "history_size": 50} if tol else {"history_size": 30}
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, line_search_fn="strong_wolfe", **extra)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(0)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        final = float(loss_fn(0))
        if not final <= best_loss:  # also catches NaN
            for p, b in zip(params, best, strict=True):
                p.copy_(b)


def fit_landmarks(
    model: FaceModel,
    target: torch.Tensor,
    focal: torch.Tensor,
    size: tuple[int, int],
    pose_iters: int,
    pose_lr: float,
    pose_drops,
    full_iters: int,
    full_lr: float,
    full_drops,
    init_tz: float = -7.0,
    task=None,
    lbfgs_iters: int = 0,
    softness: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Fit ``C`` independent problems at once: ``target [C,S,68,2]``, ``focal [C]``; id shared within a problem.

    Loss per problem: ``lan + 0.5·mean(id²) + 0.4·mean(exp²)`` (pose-only first). Returns ``id [C,K]``,
    ``exp [C,S,E]``, ``euler``/``trans`` ``[C,S,3]`` and the final per-problem landmark loss ``lan [C]``.
    """
    c, s = target.shape[:2]
    dev = target.device
    h, w = size
    id_c = torch.zeros(c, model.id_dim, device=dev, requires_grad=True)
    exp = torch.zeros(c, s, model.exp_dim, device=dev, requires_grad=True)
    euler = torch.zeros(c, s, 3, device=dev, requires_grad=True)
    trans = torch.zeros(c, s, 3, device=dev)
    trans[..., 2] = init_tz
    trans.requires_grad_(True)
    cam = PerspectiveCamera.adnerf(focal.repeat_interleave(s), w, h)

    def predict():
        ids = id_c.repeat_interleave(s, 0)
        e, r, t = exp.reshape(c * s, -1), euler.reshape(-1, 3), trans.reshape(-1, 3)
        return model.landmarks(ids, e, r, t, cam, softness)

    def pose_loss(_it):
        return lan_loss(predict().reshape(c, s, 68, 2), target).sum()

    def full_loss(_it):
        lan = lan_loss(predict().reshape(c, s, 68, 2), target)
        reg = 0.5 * id_c.square().mean(1) + 0.4 * exp.square().flatten(1).mean(1)
        return (lan + reg).sum()

    _adam_steps([euler, trans], pose_loss, pose_iters, pose_lr, pose_drops, task)
    _adam_steps([id_c, exp, euler, trans], full_loss, full_iters, full_lr, full_drops, task)
    if lbfgs_iters > 0:
        _lbfgs([id_c, exp, euler, trans], full_loss, lbfgs_iters)
    with torch.no_grad():
        lan = lan_loss(predict().reshape(c, s, 68, 2), target)
        obj = lan + 0.5 * id_c.square().mean(1) + 0.4 * exp.square().flatten(1).mean(1)
    out = {"id": id_c.detach(), "exp": exp.detach(), "euler": euler.detach(), "trans": trans.detach()}
    return out | {"lan": lan, "objective": obj}


def refine_joint(
    model: FaceModel,
    target: torch.Tensor,
    params: dict[str, torch.Tensor],
    focal: float,
    size: tuple[int, int],
    cfg: TrackerConfig,
    progress=None,
    fit_focal: bool = True,
) -> tuple[dict[str, torch.Tensor], float]:
    """Joint MAP refinement of focal, identity ``[1,K]`` and per-frame ``exp/euler/trans`` on ``target [N,68,2]``.

    Objective: ``Σ‖landmark residual‖²/(2σ²) + ½‖id‖² + ½‖exp‖²`` with ``σ = cfg.landmark_sigma`` px (the
    coefficients are in units of their standard deviations, so the last two terms are the model's Gaussian prior).
    The focal is optimised as ``log f`` and the depth as ``t_z·f/f₀`` so that a focal step at fixed image scale is
    one coordinate (the focal/depth/face-size valley is very flat; L-BFGS follows it, Adam barely does). The
    contour softness is annealed through ``cfg.joint_softness``. ``fit_focal=False`` keeps the focal fixed.
    Returns the refined parameters and focal.
    """
    h, w = size
    dev = target.device
    f0 = float(focal)
    log_r = torch.zeros((), device=dev, requires_grad=fit_focal)  # log(f / f0)
    # identity and expression restart from the prior mean: the coarse Adam fit (weak priors, few iterations) tends
    # to leave them in a basin where expression absorbs rigid motion, from which L-BFGS crawls out only slowly
    id_c = torch.zeros_like(params["id"], device=dev).requires_grad_(True)
    exp = torch.zeros_like(params["exp"], device=dev).requires_grad_(True)
    euler = params["euler"].to(dev).clone().requires_grad_(True)
    trans = params["trans"].to(dev).clone().requires_grad_(True)
    inv2s2 = 1.0 / (2.0 * cfg.landmark_sigma**2)
    one = torch.ones((), device=dev)

    def unpack():
        r = log_r.exp()
        return r * f0, trans * torch.stack((one, one, r))

    def make_loss(softness: float):
        def loss_fn(_it=0):
            f, t = unpack()
            pred = model.landmarks(id_c, exp, euler, t, PerspectiveCamera.adnerf(f, w, h), softness)
            r2 = (pred - target).square().sum()
            return r2 * inv2s2 + 0.5 * id_c.square().sum() + 0.5 * exp.square().sum()

        return loss_fn

    chunk = 300
    with _task(progress, "tracking: joint refinement", len(cfg.joint_softness) * cfg.joint_iters) as task:
        _lbfgs([euler, trans], make_loss(cfg.joint_softness[0]), min(100, cfg.joint_iters), tol=True)
        for softness in cfg.joint_softness:
            loss_fn = make_loss(softness)
            left = cfg.joint_iters
            while left > 0:
                _lbfgs(([log_r] if fit_focal else []) + [id_c, exp, euler, trans], loss_fn, min(chunk, left), tol=True)
                _advance(task, min(chunk, left))
                left -= chunk
            with torch.no_grad():
                f, t = unpack()
                pred = model.landmarks(id_c, exp, euler, t, PerspectiveCamera.adnerf(f, w, h), softness)
                rms = float((pred - target).square().mean().sqrt())
                obj = float(loss_fn())
                log.debug("joint refinement: softness %.3g objective %.4f focal %.1f rms %.3f", softness, obj, f, rms)
    with torch.no_grad():
        f, t = unpack()
    out = dict(params)
    out.update(id=id_c.detach().cpu(), exp=exp.detach().cpu(), euler=euler.detach().cpu(), trans=t.detach().cpu())
    return out, float(f)


def refine_focal(
    model: FaceModel,
    target: torch.Tensor,
    start: dict,
    focal0: float,
    size,
    iters: int,
    lbfgs_iters: int,
    softness: float = 0.0,
) -> tuple[float, float]:
    """Continuous focal refinement (tfk addition): jointly optimise log-focal with id/exp/pose on the focal-search
    frames (``target [S,68,2]``), starting from the best grid candidate ``start``. Returns (focal, objective)."""
    h, w = size
    log_f = torch.tensor(float(np.log(focal0)), device=target.device, requires_grad=True)
    id_c = start["id"].clone().requires_grad_(True)
    exp = start["exp"].clone().requires_grad_(True)
    euler = start["euler"].clone().requires_grad_(True)
    trans = start["trans"].clone().requires_grad_(True)

    def objective(_it=0):
        cam = PerspectiveCamera.adnerf(log_f.exp(), w, h)
        lan = lan_loss(model.landmarks(id_c, exp, euler, trans, cam, softness)[None], target[None])[0]
        return lan + 0.5 * id_c.square().mean() + 0.4 * exp.square().mean()

    params = [log_f, id_c, exp, euler, trans]
    _adam_steps(params, objective, iters, 0.01, [(int(iters * 0.6), 0.2), (int(iters * 0.85), 0.02)])
    if lbfgs_iters > 0:
        _lbfgs(params, objective, lbfgs_iters)
    with torch.no_grad():
        return float(log_f.exp()), float(objective())
