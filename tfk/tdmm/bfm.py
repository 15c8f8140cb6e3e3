"""Basel Face Model 2009: structural validation, the derived model files, and loaders.

``tfk weights import shared/bfm2009 01_MorphableModel.mat`` runs :func:`validate_bfm` then :func:`derive_bfm`,
which builds once:

* ``adnerf_3dmm.npz`` - the AD-NeRF sub-mesh model (``convert_BFM.py`` -> ``3DMM_info.npy`` content:
  ``mu_shape [3n]``, ``b_shape [199,3n]``, ``sig_shape``, ``mu_tex``, ``b_tex``, ``sig_tex``, ``mu_exp``, ``b_exp``,
  ``sig_exp`` on the 34,650-vertex sub-mesh) plus the topology and landmark keys it is used with, so that one
  file (no pickle) is all the tracker needs;
* ``BFM_model_front.mat`` - the Deep3DFaceRecon front-face model (``transferBFM09``: 35,709 vertices, ``idBase``
  80, ``exBase`` 64, ``texBase`` 80, ``meanshape``, ``meantex``, and ``tri``/``point_buf``/``keypoints``… from
  ``facemodel_info.mat``). It needs Guo et al.'s ``Exp_Pca.bin`` (``shared/exp_pca_guo``, manual); when that is
  imported after BFM its own derive step (:func:`derive_front_from_exp_pca`) builds the file.

The public helper files are looked up with ``tfk.weights`` (``require`` downloads public ones) unless passed in
``helpers={name: path}`` (tests, offline conversions).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from pathlib import Path

import numpy as np

from tfk.errors import InvalidArtifact, MissingWeights, TfkError

log = logging.getLogger(__name__)

BFM_VERTICES = 53490
BFM_ID_DIM = 199
REQUIRED_BFM_KEYS = ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV")
ADNERF_MODEL = "adnerf_3dmm.npz"
DEEP3D_MODEL = "BFM_model_front.mat"
CONVERTER_VERSION = "1"

#: helper file name -> artifact id (declared in :mod:`tfk.tdmm.artifacts`)
HELPER_IDS = {
    "exp_info.npy": "shared/adnerf_exp_info",
    "keys_info.npy": "shared/adnerf_keys_info",
    "topology_info.npy": "shared/adnerf_topology_info",
    "BFM_exp_idx.mat": "shared/deep3d_bfm_exp_idx",
    "BFM_front_idx.mat": "shared/deep3d_bfm_front_idx",
    "facemodel_info.mat": "shared/deep3d_facemodel_info",
    "std_exp.txt": "shared/deep3d_std_exp",
    "similarity_Lm3D_all.mat": "shared/deep3d_similarity_lm3d",
    "Exp_Pca.bin": "shared/exp_pca_guo",
}
ADNERF_HELPERS = ("exp_info.npy", "keys_info.npy", "topology_info.npy")
DEEP3D_HELPERS = ("BFM_exp_idx.mat", "BFM_front_idx.mat", "facemodel_info.mat", "std_exp.txt", "Exp_Pca.bin")


# ----------------------------------------------------------------------------------------------- validation
def check_bfm_structure(path: str | os.PathLike[str], n_vertices: int | None = BFM_VERTICES) -> dict[str, tuple]:
    """Check a BFM-2009-style ``.mat`` by its variable names and shapes (without loading the arrays).

    Requires ``shapeMU [3N,1]``, ``shapePC [3N,K]``, ``shapeEV [K,1]``, ``texMU [3N,1]``, ``texPC [3N,Kt]``,
    ``texEV [Kt,1]``; ``N`` must equal ``n_vertices`` unless that is ``None``. Returns ``{name: shape}``.
    """
    from scipy.io import whosmat

    p = Path(path)
    if not p.is_file():
        raise InvalidArtifact(f"{p}: not a file")
    try:
        info = {name: tuple(shape) for name, shape, _ in whosmat(str(p))}
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5)
        raise InvalidArtifact(f"{p.name}: MATLAB v7.3/HDF5 .mat is not the BFM 2009 format ({e})") from None
    except Exception as e:  # noqa: BLE001 - scipy raises many types for garbage input
        raise InvalidArtifact(f"{p.name}: not a MATLAB .mat file ({type(e).__name__}: {e})") from None
    missing = [k for k in REQUIRED_BFM_KEYS if k not in info]
    if missing:
        raise InvalidArtifact(f"{p.name}: not a BFM 2009 model, missing variables {', '.join(missing)}")
    n3 = info["shapeMU"][0]
    if len(info["shapeMU"]) != 2 or info["shapeMU"][1] != 1 or n3 % 3:
        raise InvalidArtifact(f"{p.name}: shapeMU has shape {info['shapeMU']}, expected [3N,1]")
    if n_vertices is not None and n3 != 3 * n_vertices:
        raise InvalidArtifact(f"{p.name}: shapeMU has {n3 // 3} vertices, BFM 2009 has {n_vertices}")
    for pre in ("shape", "tex"):
        mu, pc, ev = info[f"{pre}MU"], info[f"{pre}PC"], info[f"{pre}EV"]
        if mu != (n3, 1):
            raise InvalidArtifact(f"{p.name}: {pre}MU has shape {mu}, expected ({n3}, 1)")
        if len(pc) != 2 or pc[0] != n3:
            raise InvalidArtifact(f"{p.name}: {pre}PC has shape {pc}, expected ({n3}, K)")
        if tuple(sorted(ev)) != (1, pc[1]):
            raise InvalidArtifact(f"{p.name}: {pre}EV has shape {ev}, expected ({pc[1]}, 1)")
        if pc[1] < 100:
            raise InvalidArtifact(f"{p.name}: {pre}PC has {pc[1]} components, at least 100 are needed")
    return info


def validate_bfm(path: str | os.PathLike[str]) -> None:
    """The ``shared/bfm2009`` validator: a real BFM 2009 ``01_MorphableModel.mat`` (53,490 vertices)."""
    check_bfm_structure(path, BFM_VERTICES)


def read_exp_pca(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Guo et al. ``Exp_Pca.bin``: int32 ``d``, float32 mean ``[3n]``, float32 basis ``[d,3n]`` -> (mean, ``[3n,d]``).

    The vertex count ``n`` follows from the file size (53,215 for the published file).
    """
    p = Path(path)
    size = p.stat().st_size if p.is_file() else 0
    if size < 8:
        raise InvalidArtifact(f"{p.name}: too small to be Exp_Pca.bin")
    with open(p, "rb") as f:
        dim = int(np.frombuffer(f.read(4), dtype="<i4")[0])
        if not 1 <= dim <= 1000 or (size - 4) % (12 * (1 + dim)):
            raise InvalidArtifact(f"{p.name}: size {size} does not match an Exp_Pca.bin with {dim} components")
        n3 = (size - 4) // (4 * (1 + dim))
        mean = np.frombuffer(f.read(4 * n3), dtype="<f4").astype(np.float64)
        basis = np.frombuffer(f.read(4 * n3 * dim), dtype="<f4").reshape(dim, n3).T.astype(np.float64)
    return mean, basis


def validate_exp_pca(path: str | os.PathLike[str]) -> None:
    """The ``shared/exp_pca_guo`` validator (structure only)."""
    read_exp_pca(path)


# ----------------------------------------------------------------------------------------------- safe pickles
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dtypes and plain containers only (the AD-NeRF ``*.npy`` dicts)."""

    _ALLOWED: frozenset[tuple[str, str]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("builtins", "dict"),
            ("builtins", "list"),
            ("builtins", "tuple"),
            ("collections", "OrderedDict"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def load_npy_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a pickled-dict ``.npy`` (``np.save(path, dict)``) without running arbitrary pickle code."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                _, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                _, _, dtype = np.lib.format.read_array_header_2_0(f)
            if not dtype.hasobject:
                raise InvalidArtifact(f"{p.name}: expected a pickled dict, found a plain {dtype} array")
            obj = _NumpyOnlyUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as e:
        raise InvalidArtifact(f"{p.name}: unreadable ({e})") from None
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    if not isinstance(obj, dict):
        raise InvalidArtifact(f"{p.name}: expected a dict, found {type(obj).__name__}")
    return {str(k): np.asarray(v) for k, v in obj.items()}


# ----------------------------------------------------------------------------------------------- helpers
def _helper_paths(names: tuple[str, ...], helpers: dict[str, Path] | None, download: bool = True) -> dict[str, Path]:
    """Resolve helper files: explicit ``helpers`` first, then the weights store (``require`` for public ones)."""
    out: dict[str, Path] = {}
    missing: list[str] = []
    for name in names:
        if helpers and name in helpers:
            out[name] = Path(helpers[name])
            continue
        aid = HELPER_IDS[name]
        try:
            import tfk.weights as weights

            path = weights.require(aid) if download else weights.find(aid)
        except MissingWeights:
            path = None
        except ImportError:
            path = None
        if path is None:
            missing.append(aid)
        else:
            out[name] = Path(path)
    if missing:
        verb = "import" if "shared/exp_pca_guo" in missing and len(missing) == 1 else "pull"
        hint = f"tfk weights {verb} {' '.join(missing)}" + (" FILE" if verb == "import" else "")
        raise MissingWeights(f"BFM conversion needs {', '.join(missing)}", hint=hint, missing=missing)
    return out


def _loadmat(path: Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    try:
        return loadmat(str(path), variable_names=names)
    except Exception as e:  # noqa: BLE001
        raise InvalidArtifact(f"{path.name}: not a readable .mat file ({e})") from None


def _xyz_index(vertex_idx: np.ndarray) -> np.ndarray:
    """Vertex indices -> interleaved coordinate indices ``[3i, 3i+1, 3i+2, …]``."""
    v = np.asarray(vertex_idx, dtype=np.int64).reshape(-1, 1)
    return (3 * v + np.arange(3)).reshape(-1)


def _components_first(basis: np.ndarray, n3: int, name: str) -> np.ndarray:
    """Return ``basis`` as ``[K, 3n]`` whichever orientation it was stored in."""
    if basis.ndim != 2:
        raise InvalidArtifact(f"{name}: expected a 2-D basis, got shape {basis.shape}")
    if basis.shape[1] == n3:
        return basis
    if basis.shape[0] == n3:
        return basis.T
    raise InvalidArtifact(f"{name}: basis shape {basis.shape} does not match {n3} coordinates")


def _atomic_save(path: Path, writer) -> Path:
    """``writer(tmp)`` fills a temp sibling that replaces ``path`` only when it succeeds."""
    from tfk.fsutil import atomic_path

    with atomic_path(path) as tmp:
        writer(str(tmp))
    return Path(path)


# ----------------------------------------------------------------------------------------------- conversions
def convert_adnerf(bfm_path: Path, helpers: dict[str, Path], out_path: Path) -> Path:
    """AD-NeRF ``convert_BFM.py`` equivalent: restrict BFM to ``sub_inds`` and add the expression basis."""
    topo = load_npy_dict(helpers["topology_info.npy"])
    keys = load_npy_dict(helpers["keys_info.npy"])
    expi = load_npy_dict(helpers["exp_info.npy"])
    for d, req, name in (
        (topo, ("tris", "sub_inds"), "topology_info.npy"),
        (keys, ("keyinds", "left_contour", "right_contour", "rigid_ids"), "keys_info.npy"),
        (expi, ("mu_exp", "base_exp", "sig_exp"), "exp_info.npy"),
    ):
        lack = [k for k in req if k not in d]
        if lack:
            raise InvalidArtifact(f"{name}: missing keys {', '.join(lack)}")
    m = _loadmat(bfm_path, list(REQUIRED_BFM_KEYS))
    n_full = m["shapeMU"].shape[0] // 3
    sub = topo["sub_inds"].astype(np.int64).reshape(-1)
    if sub.min() < 0 or sub.max() >= n_full:
        raise InvalidArtifact(f"topology_info.npy: sub_inds out of range for a {n_full}-vertex model")
    idx = _xyz_index(sub)
    n3 = idx.size
    tris = topo["tris"].astype(np.int64)
    if tris.ndim != 2 or tris.shape[1] != 3 or tris.min() < 0 or tris.max() >= sub.size:
        raise InvalidArtifact("topology_info.npy: tris are not 0-based triangles of the sub-mesh")
    b_exp = _components_first(expi["base_exp"].astype(np.float32), n3, "exp_info.npy base_exp")
    out = {
        "mu_shape": m["shapeMU"][idx, 0].astype(np.float32),
        "b_shape": m["shapePC"][idx].T.astype(np.float32),
        "sig_shape": m["shapeEV"].reshape(-1).astype(np.float32),
        "mu_tex": m["texMU"][idx, 0].astype(np.float32),
        "b_tex": m["texPC"][idx].T.astype(np.float32),
        "sig_tex": m["texEV"].reshape(-1).astype(np.float32),
        "mu_exp": expi["mu_exp"].reshape(-1).astype(np.float32),
        "b_exp": b_exp,
        "sig_exp": expi["sig_exp"].reshape(-1).astype(np.float32),
        "tris": tris.astype(np.int32),
        "keyinds": keys["keyinds"].reshape(-1).astype(np.int64),
        "left_contour": keys["left_contour"].astype(np.int64),
        "right_contour": keys["right_contour"].astype(np.int64),
        "rigid_ids": keys["rigid_ids"].reshape(-1).astype(np.int64),
        "sub_inds": sub,
        "converter_version": np.array(CONVERTER_VERSION),
    }
    if out["mu_exp"].size != n3:
        raise InvalidArtifact(f"exp_info.npy: mu_exp has {out['mu_exp'].size} values, expected {n3}")
    if out["keyinds"].size != 68:
        raise InvalidArtifact(f"keys_info.npy: keyinds has {out['keyinds'].size} entries, expected 68")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **out)

    return _atomic_save(out_path, write)


def convert_deep3d(bfm_path: Path, helpers: dict[str, Path], out_path: Path) -> Path:
    """Deep3DFaceRecon ``transferBFM09`` equivalent -> ``BFM_model_front.mat``."""
    from scipy.io import savemat

    m = _loadmat(bfm_path, list(REQUIRED_BFM_KEYS))
    exp_mu, exp_pc = read_exp_pca(helpers["Exp_Pca.bin"])
    del exp_mu  # the expression mean is not part of the Deep3D model
    std_exp = np.loadtxt(helpers["std_exp.txt"]).reshape(-1)
    if std_exp.size != exp_pc.shape[1]:
        raise InvalidArtifact(f"std_exp.txt has {std_exp.size} values, Exp_Pca.bin {exp_pc.shape[1]} components")
    trim = _loadmat(helpers["BFM_exp_idx.mat"], ["trimIndex"]).get("trimIndex")
    front = _loadmat(helpers["BFM_front_idx.mat"], ["idx"]).get("idx")
    if trim is None or front is None:
        raise InvalidArtifact("BFM_exp_idx.mat/BFM_front_idx.mat: missing 'trimIndex'/'idx'")
    trim = trim.astype(np.int64).reshape(-1) - 1  # 1-based -> 0-based, into BFM's vertices
    front = front.astype(np.int64).reshape(-1) - 1  # into the expression model's vertices
    n_full = m["shapeMU"].shape[0] // 3
    if trim.size * 3 != exp_pc.shape[0] or trim.min() < 0 or trim.max() >= n_full:
        raise InvalidArtifact("BFM_exp_idx.mat does not match the BFM model and Exp_Pca.bin")
    if front.min() < 0 or front.max() >= trim.size:
        raise InvalidArtifact("BFM_front_idx.mat indices out of range")
    shape_idx = _xyz_index(trim[front])
    exp_idx = _xyz_index(front)
    id_base = (m["shapePC"] * m["shapeEV"].reshape(1, -1))[:, :80] / 1e5
    tex_base = (m["texPC"] * m["texEV"].reshape(1, -1))[:, :80]
    ex_base = (exp_pc * std_exp.reshape(1, -1))[:, :64] / 1e5
    info = _loadmat(helpers["facemodel_info.mat"])
    need = ("tri", "point_buf", "keypoints", "tri_mask2", "frontmask2_idx", "skinmask")
    lack = [k for k in need if k not in info]
    if lack:
        raise InvalidArtifact(f"facemodel_info.mat: missing {', '.join(lack)}")
    out = {
        "meanshape": (m["shapeMU"][shape_idx, 0] / 1e5).reshape(1, -1).astype(np.float32),
        "meantex": m["texMU"][shape_idx, 0].reshape(1, -1).astype(np.float32),
        "idBase": id_base[shape_idx].astype(np.float32),
        "exBase": ex_base[exp_idx].astype(np.float32),
        "texBase": tex_base[shape_idx].astype(np.float32),
        **{k: info[k] for k in need},
    }
    return _atomic_save(out_path, lambda tmp: savemat(tmp, out, do_compression=False))


def derive_bfm(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], helpers=None) -> dict[str, Path]:
    """The ``shared/bfm2009`` derive step: AD-NeRF model always; the Deep3D front model when Exp_Pca.bin is there."""
    bfm = Path(path)
    out = Path(out_dir)
    result = {ADNERF_MODEL: convert_adnerf(bfm, _helper_paths(ADNERF_HELPERS, helpers), out / ADNERF_MODEL)}
    try:
        d3 = _helper_paths(DEEP3D_HELPERS, helpers)
    except MissingWeights as e:
        log.warning("skipping %s: %s (%s)", DEEP3D_MODEL, e, e.hint)
    else:
        result[DEEP3D_MODEL] = convert_deep3d(bfm, d3, out / DEEP3D_MODEL)
    return result


def derive_front_from_exp_pca(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """The ``shared/exp_pca_guo`` derive step: builds ``BFM_model_front.mat`` if BFM 2009 is already imported."""
    try:
        import tfk.weights as weights

        bfm = weights.find("shared/bfm2009")
    except ImportError:
        bfm = None
    if bfm is None:
        log.warning("BFM 2009 not imported yet; %s will be built by 'tfk weights import shared/bfm2009'", DEEP3D_MODEL)
        return {}
    helpers = _helper_paths(DEEP3D_HELPERS, {"Exp_Pca.bin": Path(path)})
    return {DEEP3D_MODEL: convert_deep3d(Path(bfm), helpers, Path(out_dir) / DEEP3D_MODEL)}


# ----------------------------------------------------------------------------------------------- loaders
BFM_IMPORT_HINT = "tfk weights import shared/bfm2009 /path/to/01_MorphableModel.mat"


def _derived(parent: str, name: str) -> Path | None:
    try:
        import tfk.weights as weights

        p = weights.derived(parent, name)
    except (TfkError, ImportError, AttributeError, FileNotFoundError):
        return None
    return Path(p) if p is not None and Path(p).is_file() else None


def adnerf_model_path() -> Path:
    """The derived AD-NeRF model file, or :class:`MissingWeights` with the exact import command."""
    p = _derived("shared/bfm2009", ADNERF_MODEL)
    if p is None:
        raise MissingWeights(
            "the Basel Face Model 2009 is not imported (licence-gated; see 'tfk weights list')",
            hint=BFM_IMPORT_HINT,
            missing=["shared/bfm2009"],
        )
    return p


def deep3d_model_path() -> Path:
    """The derived Deep3D ``BFM_model_front.mat``, or :class:`MissingWeights` naming what to import."""
    try:
        import tfk.weights as weights

        have = weights.find("shared/bfm2009") is not None and weights.find("shared/exp_pca_guo") is not None
    except ImportError:
        have = False
    p = (_derived("shared/exp_pca_guo", DEEP3D_MODEL) or _derived("shared/bfm2009", DEEP3D_MODEL)) if have else None
    if p is None:
        raise MissingWeights(
            "the Deep3DFaceRecon face model needs BFM 2009 and Guo et al.'s Exp_Pca.bin (both licence-gated)",
            hint=f"tfk weights import shared/exp_pca_guo /path/to/Exp_Pca.bin && {BFM_IMPORT_HINT}",
            missing=["shared/bfm2009", "shared/exp_pca_guo"],
        )
    return p


def load_deep3d_front(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a ``BFM_model_front.mat`` (indices converted to 0-based int64)."""
    m = _loadmat(Path(path))
    out = {k: np.asarray(m[k]) for k in ("meanshape", "meantex", "idBase", "exBase", "texBase")}
    for k in ("tri", "point_buf", "keypoints"):
        out[k] = np.asarray(m[k]).astype(np.int64) - 1
    out["keypoints"] = out["keypoints"].reshape(-1)
    return out
