"""Rotations and the pinhole camera of the originals.

AD-NeRF / ER-NeRF / DFRF (``face_tracking/util.py``): ``R = Rx(θ)·Ry(φ)·Rz(ψ)`` (standard right-handed matrices),
``p_cam = R·p + t``; the camera sits at the origin looking down −Z (OpenGL style), and
``u = cx − f·X/Z``, ``v = cy + f·Y/Z`` with ``cx = w/2``, ``cy = h/2`` (so ``u = cx + f·X/|Z|``, image y down).

Deep3DFaceRecon (``models/bfm.py``): ``R = Rz·Ry·Rx`` applied as ``p @ Rᵀ``; the camera sits at ``z = 10`` looking at
the origin, focal 1015, principal point 112 on 224², landmarks compared in a y-up frame after ``y -> H-1-y``.
In this module's terms that is ``PerspectiveCamera(1015, 112, 111)`` on ``p_cam = R·p + t − (0, 0, 10)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def _rx(a: torch.Tensor) -> torch.Tensor:
    c, s, o, z = a.cos(), a.sin(), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((o, z, z, z, c, -s, z, s, c), -1).reshape(*a.shape, 3, 3)


def _ry(a: torch.Tensor) -> torch.Tensor:
    c, s, o, z = a.cos(), a.sin(), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((c, z, s, z, o, z, -s, z, c), -1).reshape(*a.shape, 3, 3)


def _rz(a: torch.Tensor) -> torch.Tensor:
    c, s, o, z = a.cos(), a.sin(), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack((c, -s, z, s, c, z, z, z, o), -1).reshape(*a.shape, 3, 3)


def euler2rot(euler: torch.Tensor) -> torch.Tensor:
    """AD-NeRF convention: ``euler [...,3] = (θ, φ, ψ)`` radians -> ``Rx(θ)·Ry(φ)·Rz(ψ)`` ``[...,3,3]``."""
    return _rx(euler[..., 0]) @ _ry(euler[..., 1]) @ _rz(euler[..., 2])


def rot2euler(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`euler2rot` (for |φ| < 90°)."""
    # R = Rx Ry Rz: R[0,2] = sin φ; R[0,0] = cosφ cosψ; R[0,1] = -cosφ sinψ; R[1,2] = -sinθ cosφ; R[2,2] = cosθ cosφ
    phi = torch.asin(rot[..., 0, 2].clamp(-1, 1))
    psi = torch.atan2(-rot[..., 0, 1], rot[..., 0, 0])
    theta = torch.atan2(-rot[..., 1, 2], rot[..., 2, 2])
    return torch.stack((theta, phi, psi), -1)


def deep3d_rotation(angle: torch.Tensor) -> torch.Tensor:
    """Deep3DFaceRecon convention: ``angle [...,3] = (x, y, z)`` radians -> ``Rz·Ry·Rx`` (applied as ``p @ Rᵀ``)."""
    return _rz(angle[..., 2]) @ _ry(angle[..., 1]) @ _rx(angle[..., 0])


def rotation_angle_deg(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Geodesic angle in degrees between rotation matrices ``[...,3,3]``."""
    rel = r1.transpose(-1, -2) @ r2
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    return torch.rad2deg(torch.acos(cos))


@dataclass
class PerspectiveCamera:
    """Pinhole camera looking down −Z: ``u = cx − f·X/Z``, ``v = cy + f·Y/Z`` (pixels, y down).

    ``focal`` may be a float or a tensor broadcastable to ``[B,1]`` (a per-batch focal, e.g. in focal search).
    """

    focal: float | torch.Tensor
    cx: float
    cy: float

    def project(self, pts: torch.Tensor) -> torch.Tensor:
        """Camera-space points ``[B,V,3]`` -> pixel coordinates ``[B,V,2]``."""
        f = self.focal
        if isinstance(f, torch.Tensor):
            f = f.reshape(-1, 1) if f.numel() > 1 else f.reshape(())
        z = pts[..., 2]
        z = torch.where(z.abs() < 1e-8, torch.full_like(z, -1e-8), z)
        u = self.cx - f * pts[..., 0] / z
        v = self.cy + f * pts[..., 1] / z
        return torch.stack((u, v), -1)

    def to_screen(self, pts: torch.Tensor) -> torch.Tensor:
        """``[B,V,3]`` camera space -> ``(u, v, depth)`` with depth = −Z (smaller is closer), for the rasteriser."""
        uv = self.project(pts)
        return torch.cat((uv, -pts[..., 2:3]), -1)

    @classmethod
    def adnerf(cls, focal, width: int, height: int) -> PerspectiveCamera:
        """The AD-NeRF camera: principal point at the image centre ``(w/2, h/2)``."""
        return cls(focal, width / 2.0, height / 2.0)

    @classmethod
    def deep3d(cls, size: int = 224, focal: float = 1015.0) -> PerspectiveCamera:
        """The Deep3DFaceRecon camera expressed in image-down pixels (see module doc)."""
        return cls(focal, size / 2.0, size / 2.0 - 1.0)


DEEP3D_CAMERA_DISTANCE = 10.0
