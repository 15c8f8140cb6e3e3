"""The AD-NeRF morphable model (``facemodel.py:Face_3DMM``) in torch: geometry, texture, landmarks.

Geometry = ``(mean + b_idᵀ(id·σ_id) + b_expᵀ(exp·σ_exp)) / 1e5`` with ``mean = mu_shape + mu_exp`` centred per axis;
dims id 100, exp 79, tex 100 (or fewer for smaller models). Landmarks are 68 key vertices, except jaw points 0-7
and 9-16 which follow the silhouette: per frame the contour candidate with the smallest / largest projected x.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tfk.errors import InvalidArtifact
from tfk.tdmm.camera import PerspectiveCamera, euler2rot

_REQUIRED = (
    "mu_shape",
    "b_shape",
    "sig_shape",
    "mu_tex",
    "b_tex",
    "sig_tex",
    "mu_exp",
    "b_exp",
    "sig_exp",
    "tris",
    "keyinds",
    "left_contour",
    "right_contour",
    "rigid_ids",
)


@dataclass
class FaceModel:
    """Tensors of the AD-NeRF 3DMM (all on one device). Build with :meth:`load`."""

    mean: torch.Tensor  # [n,3] centred, /1e5
    b_id: torch.Tensor  # [id_dim, n, 3] (already × σ / 1e5)
    b_exp: torch.Tensor  # [exp_dim, n, 3]
    mu_tex: torch.Tensor  # [n,3] (0-255)
    b_tex: torch.Tensor  # [tex_dim, n, 3] (× σ)
    tris: torch.Tensor  # [F,3] long
    keyinds: torch.Tensor  # [68]
    left_contour: torch.Tensor  # [8,C]
    right_contour: torch.Tensor  # [8,C]
    rigid_ids: torch.Tensor  # [R]

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        id_dim: int = 100,
        exp_dim: int = 79,
        tex_dim: int = 100,
        device: str | torch.device = "cpu",
    ) -> FaceModel:
        """Load a derived ``adnerf_3dmm.npz`` (see :func:`tfk.tdmm.bfm.convert_adnerf`)."""
        try:
            d = np.load(Path(path), allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InvalidArtifact(f"{path}: not a tfk 3DMM file ({e})") from None
        lack = [k for k in _REQUIRED if k not in d]
        if lack:
            raise InvalidArtifact(f"{path}: missing {', '.join(lack)}")
        n = d["mu_shape"].size // 3

        def basis(b, sig, k, scale):
            k = min(k, b.shape[0], sig.size)
            return torch.from_numpy((b[:k] * sig[:k, None] / scale).reshape(k, n, 3).astype(np.float32))

        mean = (d["mu_shape"] + d["mu_exp"]).reshape(n, 3).astype(np.float64)
        mean = (mean - mean.mean(0, keepdims=True)) / 1e5
        model = cls(
            mean=torch.from_numpy(mean.astype(np.float32)),
            b_id=basis(d["b_shape"], d["sig_shape"], id_dim, 1e5),
            b_exp=basis(d["b_exp"], d["sig_exp"], exp_dim, 1e5),
            mu_tex=torch.from_numpy(d["mu_tex"].reshape(n, 3).astype(np.float32)),
            b_tex=basis(d["b_tex"], d["sig_tex"], tex_dim, 1.0),
            tris=torch.from_numpy(d["tris"].astype(np.int64)),
            keyinds=torch.from_numpy(d["keyinds"].astype(np.int64)),
            left_contour=torch.from_numpy(d["left_contour"].astype(np.int64)),
            right_contour=torch.from_numpy(d["right_contour"].astype(np.int64)),
            rigid_ids=torch.from_numpy(d["rigid_ids"].astype(np.int64)),
        )
        return model.to(device)

    def to(self, device: str | torch.device) -> FaceModel:
        return FaceModel(**{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def id_dim(self) -> int:
        return self.b_id.shape[0]

    @property
    def exp_dim(self) -> int:
        return self.b_exp.shape[0]

    @property
    def tex_dim(self) -> int:
        return self.b_tex.shape[0]

    @property
    def n_vertices(self) -> int:
        return self.mean.shape[0]

    def landmark_vertex_ids(self) -> torch.Tensor:
        """Every vertex the landmark rule may use: key vertices then the flattened contour candidates."""
        return torch.cat((self.keyinds, self.left_contour.reshape(-1), self.right_contour.reshape(-1)))

    def geometry(self, id_coef: torch.Tensor, exp_coef: torch.Tensor, vids: torch.Tensor | None = None) -> torch.Tensor:
        """Model-space vertices ``[B,n,3]`` (or only ``vids``); ``id_coef [B|1,id]``, ``exp_coef [B,exp]``."""
        mean, b_id, b_exp = self.mean, self.b_id, self.b_exp
        if vids is not None:
            mean, b_id, b_exp = mean[vids], b_id[:, vids], b_exp[:, vids]
        geo = mean + torch.einsum("bk,knc->bnc", id_coef, b_id) + torch.einsum("bk,knc->bnc", exp_coef, b_exp)
        return geo

    def texture(self, tex_coef: torch.Tensor) -> torch.Tensor:
        """Per-vertex albedo ``[B,n,3]`` in 0-255."""
        return self.mu_tex + torch.einsum("bk,knc->bnc", tex_coef, self.b_tex)

    def select_landmarks(self, proj: torch.Tensor, softness: float = 0.0) -> torch.Tensor:
        """From projections of :meth:`landmark_vertex_ids` ``[B,68+16C,2]`` pick the 68 landmarks ``[B,68,2]``.

        ``softness`` > 0 (pixels) replaces the hard min/max-x contour choice by a softmin/softmax of that
        temperature: the same rule made continuous, which optimisers handle better (tfk addition).
        """
        c = self.left_contour.shape[1]
        key = proj[:, :68]
        left = proj[:, 68 : 68 + 8 * c].reshape(-1, 8, c, 2)
        right = proj[:, 68 + 8 * c :].reshape(-1, 8, c, 2)
        if softness > 0:
            wl = torch.softmax(-left[..., 0] / softness, -1)[..., None]
            wr = torch.softmax(right[..., 0] / softness, -1)[..., None]
            lsel, rsel = (wl * left).sum(2), (wr * right).sum(2)
            return torch.cat((lsel, key[:, 8:9], rsel, key[:, 17:]), 1)
        li = left[..., 0].argmin(-1)  # [B,8]
        ri = right[..., 0].argmax(-1)
        lsel = torch.gather(left, 2, li[..., None, None].expand(-1, -1, 1, 2)).squeeze(2)
        rsel = torch.gather(right, 2, ri[..., None, None].expand(-1, -1, 1, 2)).squeeze(2)
        return torch.cat((lsel, key[:, 8:9], rsel, key[:, 17:]), 1)

    def landmarks(
        self,
        id_coef: torch.Tensor,
        exp_coef: torch.Tensor,
        euler: torch.Tensor,
        trans: torch.Tensor,
        camera: PerspectiveCamera,
        softness: float = 0.0,
    ) -> torch.Tensor:
        """Projected 68 landmarks ``[B,68,2]`` for poses ``euler/trans [B,3]`` (see :meth:`select_landmarks`)."""
        vids = self.landmark_vertex_ids()
        geo = self.geometry(id_coef, exp_coef, vids)
        cam = transform(geo, euler, trans)
        return self.select_landmarks(camera.project(cam), softness)


def transform(geo: torch.Tensor, euler: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """``p_cam = R(euler)·p + t`` for ``geo [B,n,3]``, ``euler/trans [B,3]``."""
    rot = euler2rot(euler)
    return geo @ rot.transpose(-1, -2) + trans[:, None, :]
