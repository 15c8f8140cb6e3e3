"""AD-NeRF face tracking (BFM 2009) as resumable stages, batched over frames, CPU or CUDA, any clip length.

Stages (each reads the previous stage's file in ``work_dir`` (or ``src``) and writes its own, atomically; see
:mod:`tfk.tdmm.pipeline` for the same stages as resumable workspace steps):

1. :func:`stage_focal` -> ``focal.pt``: focal search on frames 0, 40, 80, …: for every focal of
   ``range(600, 1500, 100)`` a pose-only fit then a pose+id+exp fit (all candidates in one batched optimisation;
   Adam is element-wise, so this equals separate runs), keep the lowest landmark loss; then optional finer
   rounds around the best (``focal_refine``). A fixed ``focal`` (DFRF uses 1300) skips the search.
2. :func:`stage_landmarks` -> ``landmark_fit.pt``: coarse fit of all frames (pose-only, then pose+id+exp), then
   (tfk addition, :func:`refine_joint`) a joint L-BFGS refinement of focal + shared identity + per-frame
   expression/pose on every frame, minimising the MAP objective ``Σ‖r‖²/(2σ²) + ½‖id‖² + ½‖exp‖²`` (coefficients
   are in units of their standard deviations, so this is the Gaussian prior of the model) while the contour
   softness is annealed towards the hard silhouette rule.
3. :func:`stage_smooth` -> ``smooth_fit.pt``: landmark + temporal-Laplacian (rigid vertices) + expression
   regulariser refinement over the whole clip (the photometric-free fine stage; final in ``mode="landmarks"``).
4. :func:`stage_light` -> ``light_fit.pt``: texture / SH lighting on up to 32 frames spread over the clip,
   with the pure-PyTorch renderer (``mode="full"`` only).
5. :func:`stage_photometric` -> ``photo_fit.pt``: per-batch (32 consecutive frames + 5 previous as context)
   photometric + landmark + Laplacian refinement of exp/pose/light (``mode="full"``).
6. :func:`stage_write`: ``track_params.pt``, ``transforms_train.json``, ``transforms_val.json`` in ``out_dir``.
7. :func:`stage_debug` (optional): the fitted mesh rendered over the frames -> ``debug/<i>.png`` + ``debug.mp4``.

Clips of any length work: fewer than 32 frames simply give smaller batches, fewer than 3 disable the Laplacian.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from tfk.errors import BadInput, UsageError
from tfk.tdmm.camera import PerspectiveCamera
from tfk.tdmm.frames import FrameSource, load_landmarks
from tfk.tdmm.model import FaceModel, transform
from tfk.tdmm.render import interpolate, rasterize, shade_vertices
from tfk.tdmm.transforms import SPLIT_ERNERF, save_track_params, write_transforms

log = logging.getLogger(__name__)

STAGES = ("focal", "landmarks", "smooth", "light", "photometric", "write", "debug")


@dataclass
class TrackerConfig:
    """Optimisation settings; the defaults are the originals' (ER-NeRF ``face_tracker.py``)."""

    focal: float | None = None  #: fixed focal (DFRF: 1300) -> no search
    focal_candidates: tuple[float, ...] = tuple(float(f) for f in range(600, 1500, 100))
    focal_refine: int = 1  #: tfk addition: continuous refinement of the best grid focal (0 = original grid only)
    focal_refine_iters: int = 1500
    focal_criterion: str = "objective"  #: "objective" (landmarks + priors, MAP) or "landmarks" (the original)
    focal_frame_step: int = 40
    focal_pose_iters: int = 2000
    focal_full_iters: int = 2500
    coarse_pose_iters: int = 1500
    coarse_full_iters: int = 2000
    smooth_iters: int = 200
    smooth_lr: float = 0.005
    light_iters: int = 71
    fine_iters: int = 50
    batch_size: int = 32
    context_frames: int = 5
    lap_weight: float = 1e5
    photo_scale: float = 1.0  #: render the photometric stages at this fraction of the frame size
    init_tz: float = -7.0
    iters_scale: float = 1.0  #: scales every iteration count and learning-rate drop point (speed vs accuracy)
    contour_softness: float = 0.5  #: px; soft silhouette-contour choice while fitting (0 = the original hard rule)
    lbfgs_iters: int = 100  #: tfk addition: L-BFGS iterations after each pose+id+exp Adam fit (0 = original)
    polish: float = 0.25  #: tfk addition: last fraction of each landmark stage at 0.1× the final lr (0 = original)
    joint_iters: int = 1200  #: tfk addition: L-BFGS iterations per softness level of the joint refinement (0 = off)
    joint_softness: tuple[float, ...] = (0.5, 0.1, 0.02)  #: px; contour softness annealed towards the hard rule
    landmark_sigma: float = 0.5  #: px; landmark noise assumed by the joint refinement's MAP objective
    id_dim: int = 100
    exp_dim: int = 79
    tex_dim: int = 100
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def drops(self, n_iters: int, original: tuple[tuple[int, float], ...] = ()) -> list[tuple[int, float]]:
        """The original learning-rate drops (scaled) plus the polish drop (×0.1) for the last ``polish`` part."""
        out = [(self.its(it), f) for it, f in original]
        if self.polish > 0:
            last = out[-1][1] if out else 1.0
            out.append((max(1, int(n_iters * (1 - self.polish))), last * 0.1))
        return sorted(out)

    def its(self, n: int) -> int:
        """``n`` iterations scaled by ``iters_scale`` (at least 1)."""
        return max(1, round(n * self.iters_scale))


# ----------------------------------------------------------------------------------------------- utilities
def _save(path: Path, obj) -> Path:
    from tfk.fsutil import atomic_path

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def _load(path: Path) -> dict:
    if not path.is_file():
        raise UsageError(f"{path} is missing: run the earlier tracking stage first")
    return torch.load(path, map_location="cpu", weights_only=True)


def _task(progress, description: str, total: int | None):
    if progress is None:
        return nullcontext(None)
    return progress.task(description, total=total)


def _advance(task, n: int = 1) -> None:
    if task is not None:
        task.advance(n)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """:func:`tfk.device.resolve_device` as a ``torch.device`` (``None`` means CPU here)."""
    from tfk.device import resolve_device as _resolve

    return torch.device(_resolve(device if device is not None else "cpu"))


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


# ----------------------------------------------------------------------------------------------- stages
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


def stage_focal(work: Path, lms: np.ndarray, model: FaceModel, size, cfg: TrackerConfig, progress=None) -> Path:
    """Focal search -> ``focal.pt`` (``focal``, per-candidate ``losses``)."""
    out = Path(work) / "focal.pt"
    if cfg.focal is not None:
        return _save(out, {"focal": float(cfg.focal), "candidates": [float(cfg.focal)], "losses": [0.0]})
    dev = model.device
    ids = np.arange(0, len(lms), max(1, cfg.focal_frame_step))
    target = torch.as_tensor(lms[ids], dtype=torch.float32, device=dev)
    cands = [float(f) for f in cfg.focal_candidates]
    its = cfg.its
    total = its(cfg.focal_pose_iters) + its(cfg.focal_full_iters)
    with _task(progress, "tracking: focal search", total) as task:
        res = fit_landmarks(
            model,
            target[None].expand(len(cands), -1, -1, -1),
            torch.tensor(cands, device=dev),
            size,
            its(cfg.focal_pose_iters),
            0.1,
            cfg.drops(its(cfg.focal_pose_iters)),
            its(cfg.focal_full_iters),
            0.1,
            cfg.drops(its(cfg.focal_full_iters), ((1500, 0.2),)),
            cfg.init_tz,
            task,
            cfg.lbfgs_iters,
            cfg.contour_softness,
        )
    key = "lan" if cfg.focal_criterion == "landmarks" else "objective"
    losses = [float(v) for v in res[key].cpu()]
    k = int(np.argmin(losses))
    best = cands[k]
    doc = {"grid_focal": best, "candidates": cands, "losses": losses, "frames": ids.tolist()}
    if cfg.focal_refine > 0:
        start = {"id": res["id"][k : k + 1], **{n: res[n][k] for n in ("exp", "euler", "trans")}}
        with _task(progress, "tracking: focal refinement", None):
            best, obj = refine_focal(
                model, target, start, best, size, its(cfg.focal_refine_iters), cfg.lbfgs_iters, cfg.contour_softness
            )
        doc["refined_objective"] = obj
    log.info("focal search: focal %.1f (grid %.1f)", best, doc["grid_focal"])
    return _save(out, doc | {"focal": best})


def stage_landmarks(
    work: Path, lms: np.ndarray, model: FaceModel, size, cfg: TrackerConfig, progress=None, src: Path | None = None
) -> Path:
    """Coarse landmark fit of every frame at the chosen focal -> ``landmark_fit.pt``."""
    focal = float(_load(Path(src or work) / "focal.pt")["focal"])
    dev = model.device
    target = torch.as_tensor(lms, dtype=torch.float32, device=dev)[None]
    its = cfg.its
    with _task(progress, "tracking: landmark fit", its(cfg.coarse_pose_iters) + its(cfg.coarse_full_iters)) as task:
        res = fit_landmarks(
            model,
            target,
            torch.tensor([focal], device=dev),
            size,
            its(cfg.coarse_pose_iters),
            1.0,
            cfg.drops(its(cfg.coarse_pose_iters), ((1000, 0.1),)),
            its(cfg.coarse_full_iters),
            0.1,
            cfg.drops(its(cfg.coarse_full_iters), ((1000, 0.2),)),
            cfg.init_tz,
            task,
            cfg.lbfgs_iters,
            cfg.contour_softness,
        )
    params = {k: res[k][0].cpu() for k in ("exp", "euler", "trans")}
    params["id"] = res["id"].cpu()  # [1,K]
    params["searched_focal"] = torch.tensor([focal])
    if cfg.joint_iters > 0:
        params, focal = refine_joint(model, target[0], params, focal, size, cfg, progress, fit_focal=cfg.focal is None)
    params["focal"] = torch.tensor([focal])
    with torch.no_grad():
        cam = PerspectiveCamera.adnerf(focal, size[1], size[0])
        pred = model.landmarks(params["id"].to(dev), *(params[k].to(dev) for k in ("exp", "euler", "trans")), cam)
    params["lan"] = float(lan_loss(pred[None], target)[0])
    return _save(Path(work) / "landmark_fit.pt", params)


def stage_smooth(
    work: Path, lms: np.ndarray, model: FaceModel, size, cfg: TrackerConfig, progress=None, src: Path | None = None
) -> Path:
    """Landmark + temporal Laplacian + expression regulariser over the whole clip -> ``smooth_fit.pt``."""
    p = _load(Path(src or work) / "landmark_fit.pt")
    dev = model.device
    h, w = size
    focal = float(p["focal"][0])
    cam = PerspectiveCamera.adnerf(focal, w, h)
    target = torch.as_tensor(lms, dtype=torch.float32, device=dev)
    id_c = p["id"].to(dev)
    exp = p["exp"].to(dev).clone().requires_grad_(True)
    euler = p["euler"].to(dev).clone().requires_grad_(True)
    trans = p["trans"].to(dev).clone().requires_grad_(True)
    rigid = model.rigid_ids

    def loss_fn(_it):
        lan = lan_loss(model.landmarks(id_c, exp, euler, trans, cam, cfg.contour_softness)[None], target[None])[0]
        geo = transform(model.geometry(id_c, exp, rigid), euler, trans)
        return lan + cfg.lap_weight * lap_loss(geo) + exp.square().mean()

    with _task(progress, "tracking: temporal smoothing", cfg.its(cfg.smooth_iters)) as task:
        _adam_steps([exp, euler, trans], loss_fn, cfg.its(cfg.smooth_iters), cfg.smooth_lr, (), task)
    out = {k: v for k, v in p.items() if k not in ("exp", "euler", "trans")}
    out.update(exp=exp.detach().cpu(), euler=euler.detach().cpu(), trans=trans.detach().cpu())
    return _save(Path(work) / "smooth_fit.pt", out)


def _photo_setup(model: FaceModel, size, cfg: TrackerConfig, focal: float):
    h, w = size
    hs, ws = max(8, round(h * cfg.photo_scale)), max(8, round(w * cfg.photo_scale))
    sx, sy = ws / w, hs / h
    cam = PerspectiveCamera(focal * sx, w / 2.0 * sx, h / 2.0 * sy)
    return (hs, ws), (sx, sy), cam


def _images(frames: FrameSource, ids, hw, dev) -> torch.Tensor:
    imgs = frames.read(ids)
    if imgs.shape[1:3] != tuple(hw):
        import cv2

        imgs = np.stack([cv2.resize(im, (hw[1], hw[0]), interpolation=cv2.INTER_AREA) for im in imgs])
    return torch.as_tensor(imgs, dtype=torch.float32, device=dev)


def render_faces(model, id_c, exp, euler, trans, tex, light, cam, hw):
    """Rendered colour ``[B,H,W,3]`` (0-255) and mask of the model with SH-lit albedo."""
    geo = transform(model.geometry(id_c, exp), euler, trans)
    col = shade_vertices(geo, model.tris, model.texture(tex).expand(geo.shape[0], -1, -1), light)
    screen = cam.to_screen(geo)
    frags = rasterize(screen, model.tris, hw)
    return interpolate(col, screen, model.tris, frags), frags.mask


def col_loss(pred: torch.Tensor, img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ‖pred − img‖² / 255 over rendered pixels ÷ rendered area (AD-NeRF's photometric term)."""
    m = mask.to(pred.dtype)
    return ((pred - img).square().sum(-1) / 255.0 * m).sum() / m.sum().clamp(min=1.0)


def stage_light(
    work: Path,
    frames: FrameSource,
    lms,
    model: FaceModel,
    size,
    cfg: TrackerConfig,
    progress=None,
    src: Path | None = None,
) -> Path:
    """Texture and SH lighting on up to ``batch_size`` frames spread over the clip -> ``light_fit.pt``."""
    p = _load(Path(src or work) / "smooth_fit.pt")
    dev = model.device
    n = len(lms)
    ids = np.unique(np.linspace(0, n - 1, min(n, cfg.batch_size)).round().astype(int))
    hw, (sx, sy), cam = _photo_setup(model, size, cfg, float(p["focal"][0]))
    imgs = _images(frames, ids, hw, dev)
    target = torch.as_tensor(lms[ids], dtype=torch.float32, device=dev) * torch.tensor([sx, sy], device=dev)
    id_c = p["id"].to(dev).clone().requires_grad_(True)
    exp = p["exp"][ids].to(dev).clone().requires_grad_(True)
    euler = p["euler"][ids].to(dev).clone().requires_grad_(True)
    trans = p["trans"][ids].to(dev).clone().requires_grad_(True)
    tex = torch.zeros(1, model.tex_dim, device=dev, requires_grad=True)
    light = torch.zeros(len(ids), 27, device=dev, requires_grad=True)
    opt_a = torch.optim.Adam([tex, light], lr=0.1)
    opt_b = torch.optim.Adam([euler, trans, exp, id_c], lr=0.01)
    with _task(progress, "tracking: texture and lighting", cfg.light_iters) as task:
        for it in range(cfg.light_iters):
            if it == 50:
                for opt, lr in ((opt_a, 0.1), (opt_b, 0.01)):
                    for g in opt.param_groups:
                        g["lr"] = lr * 0.2
            img, mask = render_faces(model, id_c, exp, euler, trans, tex, light, cam, hw)
            col = col_loss(img, imgs, mask)
            lan = lan_loss(model.landmarks(id_c, exp, euler, trans, cam, cfg.contour_softness)[None], target[None])[0]
            reg_id, reg_exp = id_c.square().mean(), exp.square().mean()
            if it <= 50:
                loss = col + 3 * lan + 2 * reg_id + 1 * reg_exp
            else:
                loss = col + 0.05 * lan + 1.0 * reg_id + 0.8 * reg_exp
            opt_a.zero_grad(set_to_none=True)
            opt_b.zero_grad(set_to_none=True)
            loss.backward()
            opt_a.step()
            opt_b.step()
            _advance(task)
    out = dict(p)
    out.update(id=id_c.detach().cpu(), tex=tex.detach().cpu(), light=light.detach().mean(0, keepdim=True).cpu())
    return _save(Path(work) / "light_fit.pt", out)


def batch_starts(n: int, batch: int) -> list[int]:
    """Consecutive batches of ``batch`` frames; the last is right-aligned (never past the end)."""
    if n <= batch:
        return [0]
    starts = list(range(0, n - batch + 1, batch))
    if starts[-1] + batch < n:
        starts.append(n - batch)
    return starts


def stage_photometric(
    work: Path,
    frames: FrameSource,
    lms,
    model: FaceModel,
    size,
    cfg: TrackerConfig,
    progress=None,
    src: Path | None = None,
) -> Path:
    """Per-batch photometric refinement of exp/euler/trans/light -> ``photo_fit.pt``."""
    p = _load(Path(src or work) / "light_fit.pt")
    dev = model.device
    n = len(lms)
    hw, (sx, sy), cam = _photo_setup(model, size, cfg, float(p["focal"][0]))
    id_c, tex = p["id"].to(dev), p["tex"].to(dev)
    exp_all, euler_all, trans_all = p["exp"].clone(), p["euler"].clone(), p["trans"].clone()
    light_all = p["light"].expand(n, -1).clone()
    done = torch.zeros(n, dtype=torch.bool)
    rigid = model.rigid_ids
    starts = batch_starts(n, cfg.batch_size)
    with _task(progress, "tracking: photometric refinement", len(starts) * cfg.fine_iters) as task:
        for s0 in starts:
            ids = np.arange(s0, min(n, s0 + cfg.batch_size))
            ctx = [i for i in range(max(0, s0 - cfg.context_frames), s0) if done[i]]
            imgs = _images(frames, ids, hw, dev)
            target = torch.as_tensor(lms[ids], dtype=torch.float32, device=dev) * torch.tensor([sx, sy], device=dev)
            exp = exp_all[ids].to(dev).requires_grad_(True)
            euler = euler_all[ids].to(dev).requires_grad_(True)
            trans = trans_all[ids].to(dev).requires_grad_(True)
            light = light_all[ids].to(dev).requires_grad_(True)
            with torch.no_grad():
                ctx_geo = transform(
                    model.geometry(id_c, exp_all[ctx].to(dev), rigid), euler_all[ctx].to(dev), trans_all[ctx].to(dev)
                )
            opt = torch.optim.Adam([exp, euler, trans, light], lr=0.005)
            for it in range(cfg.fine_iters):
                img, mask = render_faces(model, id_c, exp, euler, trans, tex, light, cam, hw)
                col = col_loss(img, imgs, mask)
                lan = lan_loss(model.landmarks(id_c, exp, euler, trans, cam, cfg.contour_softness)[None], target[None])[
                    0
                ]
                geo = transform(model.geometry(id_c, exp, rigid), euler, trans)
                lap = lap_loss(torch.cat((ctx_geo, geo)))
                w_lan = 8.0 if it <= 30 else 1.5
                loss = 0.5 * col + w_lan * lan + cfg.lap_weight * lap + exp.square().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                _advance(task)
            exp_all[ids], euler_all[ids] = exp.detach().cpu(), euler.detach().cpu()
            trans_all[ids], light_all[ids] = trans.detach().cpu(), light.detach().cpu()
            done[ids] = True
    out = dict(p)
    out.update(exp=exp_all, euler=euler_all, trans=trans_all, light=light_all)
    return _save(Path(work) / "photo_fit.pt", out)


def final_params(work: Path, mode: str) -> dict:  # ``work``: the directory holding the last stage's file
    """The last stage's parameters for ``mode`` (``photo_fit.pt`` or ``smooth_fit.pt``)."""
    return _load(Path(work) / ("photo_fit.pt" if mode == "full" else "smooth_fit.pt"))


def stage_write(
    work: Path, out_dir: Path, lms: np.ndarray, size, mode: str, train_fraction=SPLIT_ERNERF
) -> dict[str, Path]:
    """``track_params.pt`` + ``transforms_{train,val}.json`` in ``out_dir``."""
    p = final_params(work, mode)
    h, w = size
    out = Path(out_dir)
    paths = {"track_params": save_track_params(out / "track_params.pt", p)}
    tj = write_transforms(out, p["euler"].numpy(), p["trans"].numpy(), float(p["focal"][0]), w, h, lms, train_fraction)
    paths.update({f"transforms_{k}": v for k, v in tj.items()})
    return paths


def stage_debug(
    work: Path, out_dir: Path, frames: FrameSource, model: FaceModel, mode: str, mp4: bool = True, progress=None
) -> dict[str, Path]:
    """Render the fitted mesh over every frame: ``debug/<i>.png`` and (if ``mp4``) ``debug.mp4``."""
    p = final_params(work, mode)
    dev = model.device
    n = len(p["euler"])
    size = frames.size
    h, w = size
    cam = PerspectiveCamera.adnerf(float(p["focal"][0]), w, h)
    tex = p.get("tex", torch.zeros(1, model.tex_dim)).to(dev)
    light = p.get("light", torch.zeros(1, 27)).to(dev)
    if light.shape[0] == 1:
        light = light.expand(n, -1)
    ddir = Path(out_dir) / "debug"
    ddir.mkdir(parents=True, exist_ok=True)
    writer = None
    if mp4:
        from tfk.media import VideoWriter

        writer = VideoWriter(Path(out_dir) / "debug.mp4", fps=25)
        writer.__enter__()
    import cv2

    try:
        with _task(progress, "tracking: debug renders", n) as task, torch.no_grad():
            for s0 in range(0, n, 8):
                ids = np.arange(s0, min(n, s0 + 8))
                img, mask = render_faces(
                    model,
                    p["id"].to(dev),
                    p["exp"][ids].to(dev),
                    p["euler"][ids].to(dev),
                    p["trans"][ids].to(dev),
                    tex,
                    light[ids],
                    cam,
                    size,
                )
                src = frames.read(ids).astype(np.float32)
                rend = img.clamp(0, 255).cpu().numpy()
                m = mask.cpu().numpy()[..., None].astype(np.float32) * 0.6
                blend = (src * (1 - m) + rend * m).round().astype(np.uint8)
                for k, i in enumerate(ids):
                    _imwrite(ddir / f"{i}.png", blend[k], cv2)
                    if writer is not None:
                        writer.write(blend[k])
                _advance(task, len(ids))
    except BaseException:
        if writer is not None:
            writer.__exit__(*__import__("sys").exc_info())
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
    out = {"debug_dir": ddir}
    if mp4:
        out["debug_mp4"] = Path(out_dir) / "debug.mp4"
    return out


def _imwrite(path: Path, rgb: np.ndarray, cv2) -> None:
    tmp = path.with_name(f".{path.stem}.part.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise BadInput(f"could not write {path}")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- driver
def track_video(
    landmarks,
    model: FaceModel | str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    frames=None,
    image_size: tuple[int, int] | None = None,
    mode: str = "landmarks",
    train_fraction: float | Fraction = SPLIT_ERNERF,
    device: str | torch.device | None = "cpu",
    config: TrackerConfig | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    debug: bool = False,
    debug_mp4: bool = True,
    progress=None,
) -> dict[str, Path]:
    """Track a clip and write ``track_params.pt`` + ``transforms_{train,val}.json`` into ``out_dir``.

    ``landmarks``: ``[N,68,2]`` array, ``.npy``, ``.lms`` directory or a ``tfk.face.LandmarkTrack``.
    ``frames``: a directory of ``{i}.jpg``, a video, or an array (needed for ``mode="full"`` and ``debug``).
    ``image_size`` ``(height, width)`` is taken from ``frames`` when given. ``model``: a :class:`FaceModel`,
    a path to ``adnerf_3dmm.npz``, or ``None`` for the imported BFM (``MissingWeights`` with the import command
    otherwise). ``train_fraction``: ``10/11`` (ER-NeRF, AD-NeRF) or ``0.5`` (DFRF). Stages whose file exists in
    ``work_dir`` (default ``out_dir/.track``) are skipped when ``resume``.
    """
    if mode not in ("full", "landmarks"):
        raise UsageError(f"tracking mode must be 'full' or 'landmarks', not {mode!r}")
    cfg = config or TrackerConfig()
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    lms = load_landmarks(landmarks)
    src = FrameSource(frames) if frames is not None else None
    if src is not None:
        if len(src) != len(lms):
            raise BadInput(f"{len(src)} frames but {len(lms)} landmark frames")
        size = src.size
    elif image_size is not None:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise UsageError("track_video needs frames or image_size=(height, width)")
    if (mode == "full" or debug) and src is None:
        raise UsageError("photometric tracking and debug renders need the frames")
    if model is None:
        from tfk.tdmm.bfm import adnerf_model_path

        model = adnerf_model_path()
    if not isinstance(model, FaceModel):
        model = FaceModel.load(model, cfg.id_dim, cfg.exp_dim, cfg.tex_dim)
    model = model.to(dev)
    out = Path(out_dir)
    work = Path(work_dir) if work_dir is not None else out / ".track"
    work.mkdir(parents=True, exist_ok=True)
    settings = {"config": asdict(cfg), "mode": mode, "size": list(size), "n": len(lms)}
    stamp = work / "settings.pt"
    if resume and stamp.is_file() and torch.load(stamp, weights_only=True) != settings:
        log.info("tracking settings changed: recomputing every stage")
        resume = False
    if not resume:
        for f in work.glob("*.pt"):
            f.unlink()
    _save(stamp, settings)

    plan: list[tuple[str, Callable[[], object]]] = [
        ("focal.pt", lambda: stage_focal(work, lms, model, size, cfg, progress)),
        ("landmark_fit.pt", lambda: stage_landmarks(work, lms, model, size, cfg, progress)),
        ("smooth_fit.pt", lambda: stage_smooth(work, lms, model, size, cfg, progress)),
    ]
    if mode == "full":
        plan += [
            ("light_fit.pt", lambda: stage_light(work, src, lms, model, size, cfg, progress)),
            ("photo_fit.pt", lambda: stage_photometric(work, src, lms, model, size, cfg, progress)),
        ]
    rerun = not resume
    for fname, run in plan:
        if not rerun and (work / fname).is_file():
            log.info("tracking: %s exists, skipping", fname)
            continue
        rerun = True  # every later stage depends on this one
        run()
    paths = stage_write(work, out, lms, size, mode, train_fraction)
    if debug:
        paths.update(stage_debug(work, out, src, model, mode, debug_mp4, progress))
    return paths
