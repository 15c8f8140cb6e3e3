"""Deep3DFaceRecon-layout 257-d coefficients: from the regressor (``epoch_20.pth``) or, where the checkpoint is
absent, from a landmark (+ optional photometric, with the pure-PyTorch renderer) fit on the Deep3D front model.

Fitted coefficients are a *substitute*: every file written records ``source = "fit"`` (regressor: ``"deep3d"``).
Both paths use Deep3D's 5-point POS alignment to the same 224² crop, so ``trans_params`` and the 73-d semantics
mean the same thing. Model (``models/bfm.py``): shape = recentred mean + idBase·id + exBase·exp, ``R = Rz·Ry·Rx``,
``p' = R·p + t``, camera at ``z = 10`` (focal 1015, centre 112), colour = albedo/255 × SH(gamma + 0.8 on band 0).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tfk.errors import BadInput
from tfk.tdmm.camera import DEEP3D_CAMERA_DISTANCE, PerspectiveCamera, deep3d_rotation
from tfk.tdmm.deep3d import TARGET_SIZE, align_image, align_landmarks, extract_5p
from tfk.tdmm.render import interpolate, rasterize, shade_vertices

log = logging.getLogger(__name__)


@dataclass
class CoeffResult:
    """Per-frame coefficients ``coeff [N,257]``, ``trans_params [N,5]``, ``lm_5p [N,5,2]`` and their ``source``."""

    coeff: np.ndarray
    trans_params: np.ndarray
    lm_5p: np.ndarray
    source: str


class Deep3DFaceModel:
    """The Deep3D front-face model (``BFM_model_front.mat``) in torch."""

    def __init__(self, model: dict, device: str | torch.device = "cpu"):
        mean = np.asarray(model["meanshape"], np.float64).reshape(-1, 3)
        mean = mean - mean.mean(0, keepdims=True)  # recenter=True
        n = mean.shape[0]

        def t(a):
            return torch.as_tensor(np.asarray(a, np.float32), device=device)

        self.mean = t(mean)
        self.id_base = t(np.asarray(model["idBase"]).reshape(n, 3, -1)).permute(2, 0, 1)  # [80,n,3]
        self.exp_base = t(np.asarray(model["exBase"]).reshape(n, 3, -1)).permute(2, 0, 1)  # [64,n,3]
        self.tex_base = t(np.asarray(model["texBase"]).reshape(n, 3, -1)).permute(2, 0, 1)  # [80,n,3]
        self.mean_tex = t(np.asarray(model["meantex"]).reshape(n, 3))
        self.tris = torch.as_tensor(np.asarray(model["tri"]), dtype=torch.long, device=device)
        self.keypoints = torch.as_tensor(np.asarray(model["keypoints"]).reshape(-1), dtype=torch.long, device=device)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu") -> Deep3DFaceModel:
        from tfk.tdmm.bfm import deep3d_model_path, load_deep3d_front

        return cls(load_deep3d_front(path if path is not None else deep3d_model_path()), device)

    def vertices(self, id_c: torch.Tensor, exp: torch.Tensor, angle: torch.Tensor, trans: torch.Tensor):
        """Camera-space vertices ``[B,n,3]`` for :data:`CAMERA` (camera at the origin looking down −Z)."""
        shape = self.mean + torch.einsum("bk,knc->bnc", id_c, self.id_base)
        shape = shape + torch.einsum("bk,knc->bnc", exp, self.exp_base)
        rot = deep3d_rotation(angle)
        p = shape @ rot.transpose(-1, -2) + trans[:, None]
        return p - torch.tensor([0.0, 0.0, DEEP3D_CAMERA_DISTANCE], device=p.device)

    def albedo(self, tex: torch.Tensor) -> torch.Tensor:
        return self.mean_tex + torch.einsum("bk,knc->bnc", tex, self.tex_base)


CAMERA = PerspectiveCamera.deep3d()


def _lm_down(lm_up: np.ndarray) -> np.ndarray:
    """Deep3D keeps crop landmarks y-up (``y_up = 223 − y``); the camera here works in y-down pixels."""
    out = np.asarray(lm_up, dtype=np.float64).copy()
    out[..., 1] = TARGET_SIZE - 1 - out[..., 1]
    return out


def fit_coeffs(
    landmarks: np.ndarray,
    image_size: tuple[int, int],
    face_model: Deep3DFaceModel,
    lm3d: np.ndarray,
    frames=None,
    device: str | torch.device = "cpu",
    iters: int = 600,
    photo_iters: int = 60,
    share_id: bool = True,
    batch: int = 16,
    progress=None,
) -> CoeffResult:
    """Fit 257-d coefficients to ``landmarks [N,68,2]`` (image pixels, y down) of ``image_size = (h, w)`` frames.

    Landmark stage: Adam on id (shared over the clip when ``share_id``), exp, angle, trans with
    ``lan + 0.5·mean(id²) + 0.4·mean(exp²)``. With ``frames`` (a :class:`tfk.tdmm.frames.FrameSource`-compatible
    source) a photometric stage fits tex and gamma (and refines exp/pose) with the renderer on the aligned crops.
    """
    from tfk.tdmm.frames import FrameSource, load_landmarks

    lms = load_landmarks(landmarks)
    n = len(lms)
    h0, w0 = int(image_size[0]), int(image_size[1])
    dev = torch.device(device)
    tps, crops_lm = [], []
    for k in range(n):
        tp, lm_c, _ = align_landmarks(lms[k], w0, h0, lm3d)
        tps.append(tp)
        crops_lm.append(_lm_down(lm_c))
    tps = np.stack(tps)
    target = torch.as_tensor(np.stack(crops_lm), dtype=torch.float32, device=dev)
    m = face_model
    kp = m.keypoints
    id_c = torch.zeros(1 if share_id else n, m.id_base.shape[0], device=dev, requires_grad=True)
    exp = torch.zeros(n, m.exp_base.shape[0], device=dev, requires_grad=True)
    angle = torch.zeros(n, 3, device=dev, requires_grad=True)
    trans = torch.zeros(n, 3, device=dev, requires_grad=True)

    def ids():
        return id_c.expand(n, -1) if share_id else id_c

    def lan(sel=slice(None)):
        v = m.vertices(ids()[sel], exp[sel], angle[sel], trans[sel])[:, kp]
        return (CAMERA.project(v) - target[sel]).square().mean()

    from tfk.progress import ensure

    with ensure(progress).task("3DMM coefficients: landmark fit", total=iters) as t:
        opt = torch.optim.Adam([angle, trans], lr=0.05)
        for it in range(iters):
            if it == iters // 3:
                opt = torch.optim.Adam([id_c, exp, angle, trans], lr=0.05)
            if it == (2 * iters) // 3:
                for g in opt.param_groups:
                    g["lr"] = 0.01
            loss = lan() + 0.5 * id_c.square().mean() + 0.4 * exp.square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            t.advance()
    tex = torch.zeros(n, m.tex_base.shape[0], device=dev)
    gamma = torch.zeros(n, 27, device=dev)
    if frames is not None and photo_iters > 0:
        src = frames if isinstance(frames, FrameSource) else FrameSource(frames)
        if len(src) != n:
            raise BadInput(f"{len(src)} frames but {n} landmark frames")
        for s0 in range(0, n, batch):
            sel = slice(s0, min(n, s0 + batch))
            idx = list(range(sel.start, sel.stop))
            imgs = src.read(idx)
            crops = np.stack([align_image(imgs[j], lms[i], lm3d)[1] for j, i in enumerate(idx)])
            img_t = torch.as_tensor(crops, dtype=torch.float32, device=dev) / 255.0
            e, a, tr = (x[sel].detach().clone().requires_grad_(True) for x in (exp, angle, trans))
            tx = torch.zeros(len(idx), m.tex_base.shape[0], device=dev, requires_grad=True)
            gm = torch.zeros(len(idx), 27, device=dev, requires_grad=True)
            idb = ids()[sel].detach()
            opt_a = torch.optim.Adam([tx, gm], lr=0.05)
            opt_b = torch.optim.Adam([e, a, tr], lr=0.002)
            tgt = target[sel]
            for _ in range(photo_iters):
                v = m.vertices(idb, e, a, tr)
                col = shade_vertices(v, m.tris, m.albedo(tx) / 255.0, gm)
                screen = CAMERA.to_screen(v)
                frags = rasterize(screen, m.tris, (TARGET_SIZE, TARGET_SIZE))
                pred = interpolate(col, screen, m.tris, frags)
                msk = frags.mask.to(pred.dtype)
                photo = ((pred - img_t).square().sum(-1) * msk).sum() / msk.sum().clamp(min=1)
                lan_b = (CAMERA.project(v[:, kp]) - tgt).square().mean()
                loss = photo + 1e-3 * lan_b + 1e-3 * tx.square().mean() + 1e-3 * e.square().mean()
                opt_a.zero_grad(set_to_none=True)
                opt_b.zero_grad(set_to_none=True)
                loss.backward()
                opt_a.step()
                opt_b.step()
            with torch.no_grad():
                exp[sel], angle[sel], trans[sel] = e, a, tr
                tex[sel], gamma[sel] = tx, gm
    with torch.no_grad():
        coeff = torch.cat((ids(), exp, tex, angle, gamma, trans), 1).cpu().numpy().astype(np.float32)
    lm5 = np.stack([extract_5p(lms[k]) for k in range(n)]).astype(np.float32)
    return CoeffResult(coeff, tps.astype(np.float32), lm5, "fit")


def regress_coeffs(frames, landmarks, lm3d: np.ndarray, net, device="cpu", batch: int = 16) -> CoeffResult:
    """Deep3D regressor path: align every frame (POS crop) and run ``net`` (a loaded :class:`ReconNet`)."""
    from tfk.tdmm.deep3d import regress
    from tfk.tdmm.frames import FrameSource, load_landmarks

    lms = load_landmarks(landmarks)
    src = frames if isinstance(frames, FrameSource) else FrameSource(frames)
    if len(src) != len(lms):
        raise BadInput(f"{len(src)} frames but {len(lms)} landmark frames")
    coeffs, tps = [], []
    for s0 in range(0, len(lms), batch):
        idx = list(range(s0, min(len(lms), s0 + batch)))
        imgs = src.read(idx)
        al = [align_image(imgs[j], lms[i], lm3d) for j, i in enumerate(idx)]
        tps += [a[0] for a in al]
        coeffs.append(regress(net, np.stack([a[1] for a in al]), device, batch))
    lm5 = np.stack([extract_5p(lm) for lm in lms]).astype(np.float32)
    return CoeffResult(np.concatenate(coeffs), np.stack(tps).astype(np.float32), lm5, "deep3d")


def compute_coeffs(
    frames,
    landmarks,
    method: str = "auto",
    device: str | torch.device = "cpu",
    checkpoint: str | os.PathLike[str] | None = None,
    face_model: Deep3DFaceModel | None = None,
    lm3d: np.ndarray | None = None,
    progress=None,
    **fit_options,
) -> CoeffResult:
    """257-d coefficients for a clip. ``method``: ``"deep3d"`` (needs ``epoch_20.pth``), ``"fit"`` (needs the
    Deep3D face model derived from BFM), or ``"auto"`` (regressor when its checkpoint is imported, else fit).
    ``fit_options`` go to :func:`fit_coeffs` (``iters``, ``photo_iters``, ``share_id``…)."""
    from tfk.tdmm.deep3d import load_lm3d, load_recon_net
    from tfk.tdmm.frames import FrameSource

    if method not in ("auto", "deep3d", "fit"):
        raise BadInput(f"coefficient method must be auto, deep3d or fit, not {method!r}")
    lm3d = load_lm3d() if lm3d is None else lm3d
    src = frames if isinstance(frames, FrameSource) else FrameSource(frames)
    if method == "auto":
        have = checkpoint is not None
        if not have:
            try:
                import tfk.weights as weights

                have = weights.find("shared/deep3d_epoch20") is not None
            except ImportError:
                have = False
        method = "deep3d" if have else "fit"
        if method == "fit":
            log.warning("Deep3DFaceRecon epoch_20.pth is not imported: fitting coefficients instead (source=fit)")
    if method == "deep3d":
        return regress_coeffs(src, landmarks, lm3d, load_recon_net(checkpoint, device), device)
    fm = face_model or Deep3DFaceModel.load(device=device)
    return fit_coeffs(landmarks, src.size, fm, lm3d, frames=src, device=device, progress=progress, **fit_options)


def write_coeffs(result: CoeffResult, out: str | os.PathLike[str], layout: str = "video") -> list[Path]:
    """Write ``result`` as PIRender/StyleHEAT ``layout="video"`` (one ``.mat``) or PHADTF ``"frames"``."""
    from tfk.tdmm.deep3d import write_frame_coeffs, write_video_coeffs

    if layout == "video":
        return [write_video_coeffs(out, result.coeff, result.trans_params, result.source)]
    if layout == "frames":
        return write_frame_coeffs(out, result.coeff, result.lm_5p, result.source)
    raise BadInput(f"coefficient layout must be 'video' or 'frames', not {layout!r}")
