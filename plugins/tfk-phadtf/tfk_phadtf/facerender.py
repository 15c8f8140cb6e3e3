"""Rendering 257-d coefficients to the 224x224 RGBA images PHADTF blends (the tf_mesh_renderer step).

Geometry and colour come from the toolbox's Deep3D front model (:class:`tfk.tdmm.fit257.Deep3DFaceModel`) and
pure-PyTorch rasteriser: camera at z = 10, focal 1015, 224x224, colour = albedo x SH irradiance / 255 (white
ambient light only), alpha = coverage (0 or 255).
"""

from __future__ import annotations

import numpy as np
import torch

SIZE = 224


class FaceRenderer:
    def __init__(self, face_model, device: str = "cpu"):
        self.m = face_model
        self.device = torch.device(device)

        self._fixed: tuple | None = None

    def fix_identity(self, coeff: np.ndarray) -> None:
        """Cache the identity shape and albedo of ``coeff`` (257,): at test time every frame shares frame 0's id,
        texture and light, so only expression and pose change (:meth:`render_exp_pose`)."""
        c = torch.as_tensor(np.asarray(coeff, np.float32), device=self.device).reshape(1, 257)
        shape = self.m.mean + torch.einsum("bk,knc->bnc", c[:, :80], self.m.id_base)
        self._fixed = (shape, self.m.albedo(c[:, 144:224]) / 255.0, c[:, 227:254])

    @torch.no_grad()
    def render_exp_pose(self, exp: np.ndarray, angle: np.ndarray, trans: np.ndarray) -> np.ndarray:
        """Like :meth:`render` for the fixed identity (``fix_identity``) -> RGBA uint8 (B, 224, 224, 4)."""
        from tfk.tdmm.camera import DEEP3D_CAMERA_DISTANCE, deep3d_rotation

        if self._fixed is None:
            raise RuntimeError("fix_identity() first")
        shape0, albedo, gamma = self._fixed

        def t(a):
            return torch.as_tensor(np.asarray(a, np.float32), device=self.device)

        e, a, tr = t(exp), t(angle), t(trans)
        shape = shape0 + torch.einsum("bk,knc->bnc", e, self.m.exp_base)
        v = shape @ deep3d_rotation(a).transpose(-1, -2) + tr[:, None]
        v = v - torch.tensor([0.0, 0.0, DEEP3D_CAMERA_DISTANCE], device=v.device)
        b = v.shape[0]
        return self._draw(v, albedo.expand(b, -1, -1), gamma.expand(b, -1))

    @torch.no_grad()
    def render(self, coeff: np.ndarray) -> np.ndarray:
        """``coeff`` (B, 257) -> RGBA uint8 (B, 224, 224, 4)."""
        c = torch.as_tensor(np.asarray(coeff, np.float32), device=self.device).reshape(-1, 257)
        v = self.m.vertices(c[:, :80], c[:, 80:144], c[:, 224:227], c[:, 254:257])
        return self._draw(v, self.m.albedo(c[:, 144:224]) / 255.0, c[:, 227:254])

    def _draw(self, v: torch.Tensor, albedo: torch.Tensor, gamma: torch.Tensor) -> np.ndarray:
        from tfk.tdmm.fit257 import CAMERA
        from tfk.tdmm.render import interpolate, rasterize, shade_vertices

        col = shade_vertices(v, self.m.tris, albedo, gamma)
        screen = CAMERA.to_screen(v)
        frags = rasterize(screen, self.m.tris, (SIZE, SIZE))
        img = interpolate(col, screen, self.m.tris, frags).clamp(0, 1)
        alpha = frags.mask.to(img.dtype)[..., None]
        rgba = torch.cat([img * alpha, alpha], -1)
        return (rgba * 255.0 + 0.5).floor().clamp(0, 255).to(torch.uint8).cpu().numpy()


def shift(rgba: np.ndarray, tx: float, ty: float) -> np.ndarray:
    """PIL ``transform(AFFINE, (1, 0, -tx, 0, 1, -ty))`` (nearest): content moves by (+tx, +ty)."""
    import cv2

    m = np.array([[1.0, 0.0, tx], [0.0, 1.0, ty]])
    h, w = rgba.shape[:2]
    return cv2.warpAffine(rgba, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
