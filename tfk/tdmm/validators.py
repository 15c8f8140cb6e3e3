"""Validators of the 3DMM helper files whose sha256 is not published (see :mod:`tfk.tdmm.artifacts`).

Each loads the file the way the converters read it (MATLAB variables, numpy-only pickled dicts, a list
of numbers) and checks the variables they need, so a download cut short is never pinned.
"""

from __future__ import annotations

import os

from tfk.weights import checks

__all__ = [
    "validate_bfm_exp_idx",
    "validate_bfm_front_idx",
    "validate_exp_info",
    "validate_facemodel_info",
    "validate_mat",
    "validate_similarity_lm3d",
    "validate_std_exp",
]

#: expression components of Guo et al.'s basis (``Exp_Pca.bin``, ``std_exp.txt``)
N_EXP = 79


def validate_exp_info(path: str | os.PathLike[str]) -> None:
    checks.npy_dict_keys(path, ["mu_exp", "base_exp", "sig_exp"])


def validate_similarity_lm3d(path: str | os.PathLike[str]) -> None:
    from tfk.errors import InvalidArtifact

    lm = checks.mat_keys(path, ["lm"])["lm"]
    if tuple(lm.shape) != (68, 3):
        raise InvalidArtifact(f"similarity_Lm3D_all.mat: lm has shape {tuple(lm.shape)}, expected (68, 3)")


def validate_bfm_exp_idx(path: str | os.PathLike[str]) -> None:
    checks.mat_keys(path, ["trimIndex"])


def validate_bfm_front_idx(path: str | os.PathLike[str]) -> None:
    checks.mat_keys(path, ["idx"])


def validate_facemodel_info(path: str | os.PathLike[str]) -> None:
    checks.mat_keys(path, ["tri", "point_buf", "keypoints", "tri_mask2", "frontmask2_idx", "skinmask"])


def validate_mat(path: str | os.PathLike[str]) -> None:
    """Any complete MATLAB file (every variable readable)."""
    checks.mat_keys(path, [])


def validate_std_exp(path: str | os.PathLike[str]) -> None:
    checks.text_numbers(path, N_EXP)
