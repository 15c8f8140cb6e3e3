"""A small random morphable face model with the structure of BFM 2009 and its helper files (for tests and demos).

BFM cannot be shipped. :func:`make_synthetic_bfm` writes, at a few hundred vertices, every file the real
conversion reads, with the same keys, orientations, index bases and units (micrometre-scale ``shapeMU``):
``01_MorphableModel.mat``, AD-NeRF's ``exp_info.npy``/``keys_info.npy``/``topology_info.npy`` (pickled dicts, as
published) and Deep3DFaceRecon's ``Exp_Pca.bin``, ``std_exp.txt``, ``BFM_exp_idx.mat``, ``BFM_front_idx.mat``,
``facemodel_info.mat``, ``similarity_Lm3D_all.mat``. The geometry is a face-like height field whose 68 iBUG
landmarks are mesh vertices; identity, expression and texture bases are smooth random fields.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

UNIT = 1e5  # BFM coordinates divided by this are the trackers' units


def landmark_template() -> np.ndarray:
    """A frontal iBUG-68 layout ``[68,2]`` (x right, y up) in tracker units (face width ≈ 1.4)."""
    pts: list[tuple[float, float]] = []
    for k in range(17):  # jaw 0-16
        t = math.pi + math.pi * k / 16
        pts.append((0.68 * math.cos(t), 0.15 + 0.95 * math.sin(t)))
    for xs in ((-0.55, -0.45, -0.34, -0.23, -0.13), (0.13, 0.23, 0.34, 0.45, 0.55)):
        for x in xs:  # brows 17-21, 22-26
            pts.append((x, 0.45 + 0.06 * math.cos((abs(x) - 0.34) / 0.21 * math.pi / 2)))
    for y in (0.35, 0.25, 0.15, 0.05):  # nose bridge 27-30
        pts.append((0.0, y))
    for x, y in ((-0.12, -0.03), (-0.06, -0.06), (0.0, -0.07), (0.06, -0.06), (0.12, -0.03)):  # nostrils 31-35
        pts.append((x, y))
    left = [(-0.4, 0.3), (-0.33, 0.335), (-0.27, 0.335), (-0.2, 0.3), (-0.27, 0.265), (-0.33, 0.265)]
    right = [(0.2, 0.3), (0.27, 0.335), (0.33, 0.335), (0.4, 0.3), (0.33, 0.265), (0.27, 0.265)]
    pts += left + right  # eyes 36-41, 42-47
    for k in range(12):  # outer lip 48-59
        a = math.pi - k * 2 * math.pi / 12
        pts.append((0.22 * math.cos(a), -0.35 + 0.1 * math.sin(a)))
    for k in range(8):  # inner lip 60-67
        a = math.pi - k * 2 * math.pi / 8
        pts.append((0.14 * math.cos(a), -0.35 + 0.035 * math.sin(a)))
    return np.array(pts, dtype=np.float64)


def _height(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    base = 0.5 * np.sqrt(np.clip(1 - (x / 0.85) ** 2 - ((y + 0.1) / 1.05) ** 2, 0, None))
    nose = 0.22 * np.exp(-((x / 0.11) ** 2 + ((y - 0.08) / 0.22) ** 2))
    brow = 0.04 * np.exp(-(((y - 0.45) / 0.06) ** 2)) * (np.abs(x) < 0.6)
    return base + nose + brow


def _rigid_basis(xyz: np.ndarray) -> np.ndarray:
    """Orthonormal ``[3V,6]`` basis of infinitesimal rigid motions (3 translations, 3 rotations) of ``xyz``."""
    p = xyz - xyz.mean(0)
    cols = []
    for k in range(3):
        t = np.zeros_like(p)
        t[:, k] = 1
        cols.append(t.reshape(-1))
    for axis in np.eye(3):
        cols.append(np.cross(axis, p).reshape(-1))
    q, _ = np.linalg.qr(np.stack(cols, 1))
    return q


def _smooth_fields(
    xy: np.ndarray,
    n: int,
    rng: np.random.Generator,
    weight: np.ndarray | None = None,
    rigid: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` random smooth vector fields on the points ``xy [V,2]`` -> orthonormal columns ``[3V, n]``.

    ``rigid [3V,6]``: rigid motions projected out, as in a Procrustes-aligned PCA model such as BFM.
    """
    v = xy.shape[0]
    centres = rng.uniform([-0.7, -0.9], [0.7, 0.7], size=(n, 4, 2))
    widths = rng.uniform(0.15, 0.5, size=(n, 4, 1))
    amps = rng.normal(size=(n, 4, 3))
    d2 = ((xy[None, None] - centres[:, :, None]) ** 2).sum(-1)  # [n,4,V]
    g = np.exp(-d2 / widths**2)
    f = np.einsum("nkv,nkc->nvc", g, amps)  # [n,V,3]
    if weight is not None:
        f = f * weight[None, :, None]
    f = f.reshape(n, 3 * v).T
    if rigid is not None:
        f = f - rigid @ (rigid.T @ f)
    q, _ = np.linalg.qr(f)
    return q[:, :n]


def _adjacent(tris: np.ndarray, n_vert: int, k: int = 8, pad: int = -1) -> np.ndarray:
    out = np.full((n_vert, k), pad, dtype=np.int64)
    fill = np.zeros(n_vert, dtype=np.int64)
    for t, tri in enumerate(tris):
        for vtx in tri:
            if fill[vtx] < k:
                out[vtx, fill[vtx]] = t
                fill[vtx] += 1
    return out


def _save_npy_dict(path: Path, d: dict) -> None:
    np.save(path, np.array(d, dtype=object), allow_pickle=True)


def make_synthetic_bfm(out_dir: str | os.PathLike[str], seed: int = 0, grid: int = 22) -> dict[str, Path]:
    """Write a synthetic BFM and all helper files into ``out_dir``; returns ``{file name: path}``.

    ``grid`` sets the density (22 gives ≈ 450 vertices). Deterministic for a given seed.
    """
    from scipy.io import savemat
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lms = landmark_template()
    gx, gy = np.meshgrid(np.linspace(-0.82, 0.82, grid), np.linspace(-1.0, 0.8, grid))
    g = np.stack((gx.ravel(), gy.ravel()), -1)
    g = g[(g[:, 0] / 0.84) ** 2 + ((g[:, 1] + 0.1) / 0.92) ** 2 < 1.0]
    # jaw contour candidates: 20 points on a line from each jaw landmark towards the face centre
    jaw_ids = [*range(0, 8), *range(9, 17)]
    lines = []
    for j in jaw_ids:
        d = np.array([0.0, -0.1]) - lms[j]
        d /= np.linalg.norm(d)
        lines.append(lms[j] + d * (0.015 * np.arange(1, 20))[:, None])
    cpts = np.concatenate(lines)  # [16*19, 2]
    anchors = np.concatenate((lms, cpts))
    near = np.min(((g[:, None] - anchors[None]) ** 2).sum(-1), axis=1) < 0.03**2
    g = g[~near]
    xy = np.concatenate((lms, cpts, g))  # landmarks are vertices 0..67, then the contour candidates
    n_full = xy.shape[0]
    tri_full = Delaunay(xy).simplices.astype(np.int64)
    xyz = np.concatenate((xy, _height(xy[:, 0], xy[:, 1])[:, None]), -1)
    mean = (xyz + np.array([0.01, 0.12, 0.35])) * UNIT  # BFM's mean is not centred

    rigid = _rigid_basis(xyz)
    n_id = 199
    id_pc = _smooth_fields(xy, n_id, rng, rigid=rigid)
    id_ev = 1.2e5 * 0.96 ** np.arange(n_id)
    tex_pc = _smooth_fields(xy, n_id, rng)
    tex_ev = 1.5e3 * 0.97 ** np.arange(n_id)
    # albedo: skin with darker eyes/brows and red lips
    col = np.tile(np.array([205.0, 155.0, 135.0]), (n_full, 1))
    for centre, colour, w in (
        ((-0.3, 0.3), (60, 45, 40), 0.07),
        ((0.3, 0.3), (60, 45, 40), 0.07),
        ((-0.34, 0.47), (90, 60, 50), 0.09),
        ((0.34, 0.47), (90, 60, 50), 0.09),
        ((0.0, -0.35), (170, 70, 70), 0.12),
    ):
        wgt = np.exp(-(((xy - np.array(centre)) ** 2).sum(-1)) / w**2)[:, None]
        col = col * (1 - wgt) + np.array(colour) * wgt
    col += 12 * np.sin(4 * xy[:, :1]) * np.cos(3 * xy[:, 1:])

    n_exp = 79
    mouth = np.exp(-(((xy - np.array([0.0, -0.4])) ** 2).sum(-1)) / 0.3**2)
    eyes = np.exp(-((np.abs(xy[:, 0]) - 0.3) ** 2 + (xy[:, 1] - 0.38) ** 2) / 0.15**2)
    exp_fields = _smooth_fields(xy, n_exp - 1, rng, weight=mouth + 0.6 * eyes, rigid=rigid)
    jaw = np.zeros((n_full, 3))
    low = np.clip(-0.3 - xy[:, 1], 0, None)
    inner_upper = np.arange(n_full) == -1
    jaw[:, 1] = -low * (1 - inner_upper)
    jaw = jaw.reshape(-1, 1) / np.linalg.norm(jaw)
    exp_pc = np.concatenate((jaw - rigid @ (rigid.T @ jaw), exp_fields), 1)
    exp_pc, _ = np.linalg.qr(exp_pc)
    exp_ev = 4.0e4 * 0.95 ** np.arange(n_exp)

    files: dict[str, Path] = {}
    bfm = {
        "shapeMU": mean.reshape(-1, 1).astype(np.float32),
        "shapePC": id_pc.astype(np.float32),
        "shapeEV": id_ev.reshape(-1, 1).astype(np.float32),
        "texMU": col.reshape(-1, 1).astype(np.float32),
        "texPC": tex_pc.astype(np.float32),
        "texEV": tex_ev.reshape(-1, 1).astype(np.float32),
        "tl": (tri_full + 1).astype(np.float64),
    }
    files["01_MorphableModel.mat"] = out / "01_MorphableModel.mat"
    savemat(files["01_MorphableModel.mat"], bfm)

    # ---- AD-NeRF helpers: sub-mesh = inner region (contains all landmarks)
    inner = (xy[:, 0] / 0.8) ** 2 + ((xy[:, 1] + 0.1) / 0.9) ** 2 < 1.0
    inner[: 68 + cpts.shape[0]] = True
    sub = np.nonzero(inner)[0]
    remap = -np.ones(n_full, dtype=np.int64)
    remap[sub] = np.arange(sub.size)
    keep = inner[tri_full].all(1)
    tris_sub = remap[tri_full[keep]]
    sxy = xy[sub]

    def contour(which: range) -> np.ndarray:
        rows = []
        for j in which:
            line = 68 + 19 * jaw_ids.index(j) + np.arange(19)
            rows.append(remap[np.concatenate(([j], line))])
        return np.array(rows, dtype=np.int64)

    rigid = np.nonzero((sxy[:, 1] > -0.05) & (np.abs(sxy[:, 0]) < 0.55))[0]
    exp_sub = exp_pc.reshape(n_full, 3, n_exp)[sub].reshape(-1, n_exp)
    _save_npy_dict(
        out / "exp_info.npy",
        {
            "mu_exp": np.zeros(3 * sub.size, dtype=np.float32),
            "base_exp": exp_sub.T.astype(np.float32),
            "sig_exp": exp_ev.astype(np.float32),
        },
    )
    _save_npy_dict(
        out / "keys_info.npy",
        {
            "keyinds": remap[np.arange(68)],
            "left_contour": contour(range(0, 8)),
            "right_contour": contour(range(9, 17)),
            "rigid_ids": rigid,
        },
    )
    _save_npy_dict(
        out / "topology_info.npy",
        {"tris": tris_sub, "vert_tris": _adjacent(tris_sub, sub.size), "sub_inds": sub},
    )
    for name in ("exp_info.npy", "keys_info.npy", "topology_info.npy"):
        files[name] = out / name

    # ---- Deep3D helpers: expression model on a trimmed set, front face = a subset of it
    trim = np.nonzero(xy[:, 1] > -0.98)[0]  # like BFM_exp_idx: 53,215 of 53,490 vertices
    trim = np.union1d(trim, np.arange(68 + cpts.shape[0]))
    exp_trim = exp_pc.reshape(n_full, 3, n_exp)[trim].reshape(-1, n_exp)
    with open(out / "Exp_Pca.bin", "wb") as f:
        f.write(np.array([n_exp], dtype="<i4").tobytes())
        f.write(np.zeros(exp_trim.shape[0], dtype="<f4").tobytes())
        f.write(exp_trim.T.astype("<f4").tobytes())
    np.savetxt(out / "std_exp.txt", exp_ev)
    savemat(out / "BFM_exp_idx.mat", {"trimIndex": (trim + 1).reshape(-1, 1).astype(np.float64)})
    tpos = {v: i for i, v in enumerate(trim)}
    front_full = np.nonzero(inner)[0]
    front = np.array([tpos[v] for v in front_full if v in tpos], dtype=np.int64)  # trim-local
    savemat(out / "BFM_front_idx.mat", {"idx": (front + 1).reshape(-1, 1).astype(np.float64)})
    fremap = -np.ones(n_full, dtype=np.int64)
    fremap[trim[front]] = np.arange(front.size)
    ftris = fremap[tri_full[(fremap[tri_full] >= 0).all(1)]]
    point_buf = _adjacent(ftris, front.size, pad=ftris.shape[0])  # pad -> the dummy zero-normal face
    savemat(
        out / "facemodel_info.mat",
        {
            "tri": (ftris + 1).astype(np.float64),
            "point_buf": (point_buf + 1).astype(np.float64),
            "keypoints": (fremap[np.arange(68)] + 1).reshape(1, -1).astype(np.float64),
            "tri_mask2": (ftris + 1).astype(np.float64),
            "frontmask2_idx": np.arange(1, front.size + 1, dtype=np.float64).reshape(-1, 1),
            "skinmask": np.ones((1, front.size)),
        },
    )
    lm3d = xyz[:68] - xyz[trim[front]].mean(0)
    savemat(out / "similarity_Lm3D_all.mat", {"lm": lm3d.astype(np.float64)})
    for name in (
        "Exp_Pca.bin",
        "std_exp.txt",
        "BFM_exp_idx.mat",
        "BFM_front_idx.mat",
        "facemodel_info.mat",
        "similarity_Lm3D_all.mat",
    ):
        files[name] = out / name
    return files
