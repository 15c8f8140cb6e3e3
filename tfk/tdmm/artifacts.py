"""Artifacts of the 3DMM layer (plain declarations; importing this module is cheap).

``shared/bfm2009`` and ``shared/exp_pca_guo`` are licence-gated (manual import, validated structurally, converted
once by their ``derive`` steps); ``shared/deep3d_epoch20`` is a manual checkpoint; the rest are small public helper
files from the AD-NeRF and Deep3DFaceRecon_pytorch repositories (MIT code; indices into the BFM topology).
Their sha256 are not published: each has its exact size (measured) or a validator that reads it the way the
converters do, so a download cut short is never pinned; the first verified download records the hash.
"""

from __future__ import annotations

from tfk.hookspecs import hookimpl
from tfk.weights.artifact import Artifact

_NERF = ("ernerf", "dfrf")
_D3D = ("styleheat", "phadtf")
_ADNERF_RAW = "https://github.com/YudongGuo/AD-NeRF/blob/master/data_util/face_tracking/3DMM/{}?raw=true"
_ADNERF_PIN = "https://github.com/YudongGuo/AD-NeRF/raw/9fdcd7e/data_util/face_tracking/3DMM/{}"
_DEEP3D_RAW = "https://github.com/sicxu/Deep3DFaceRecon_pytorch/raw/master/BFM/{}"
_DEEP3D_PIN = "https://github.com/sicxu/Deep3DFaceRecon_pytorch/raw/9167c71/BFM/{}"


def _adnerf(
    name: str,
    filename: str,
    description: str,
    size: int | None = None,
    optional: bool = False,
    validator: str | None = None,
) -> Artifact:
    return Artifact(
        id=f"shared/{name}",
        filename=filename,
        size=size,
        validator=validator,
        sources=(_ADNERF_PIN.format(filename), _ADNERF_RAW.format(filename)),
        license="MIT (AD-NeRF repository)",
        description=description,
        used_by=_NERF,
        optional=optional,
    )


def _deep3d(name: str, filename: str, description: str, validator: str, optional: bool = False) -> Artifact:
    return Artifact(
        id=f"shared/{name}",
        filename=filename,
        validator=f"tfk.tdmm.validators:{validator}",
        sources=(_DEEP3D_PIN.format(filename), _DEEP3D_RAW.format(filename)),
        license="MIT (Deep3DFaceRecon_pytorch repository)",
        description=description,
        used_by=_D3D,
        optional=optional,
    )


ARTIFACTS: list[Artifact] = [
    Artifact(
        id="shared/bfm2009",
        filename="01_MorphableModel.mat",
        manual=True,
        instructions=(
            "Basel Face Model 2009 (licence-gated, non-commercial research use). Register at "
            "https://faces.dmi.unibas.ch/bfm/main.php?nav=1-2&id=downloads and accept the licence; you receive a "
            "link to BaselFaceModel.tgz. Unpack it and import PublicMM1/01_MorphableModel.mat with:\n"
            "  tfk weights import shared/bfm2009 /path/to/PublicMM1/01_MorphableModel.mat\n"
            "tfk checks its structure (53,490 vertices, shape/texture PCA) and converts it once for every plugin "
            "(AD-NeRF sub-mesh model; Deep3DFaceRecon front-face model when Exp_Pca.bin is imported too)."
        ),
        license="Basel Face Model 2009 licence (registration, non-commercial, no redistribution)",
        description="Basel Face Model 2009 (01_MorphableModel.mat)",
        validator="tfk.tdmm.bfm:validate_bfm",
        derive="tfk.tdmm.bfm:derive_bfm",
        used_by=_NERF + _D3D,
    ),
    Artifact(
        id="shared/exp_pca_guo",
        filename="Exp_Pca.bin",
        manual=True,
        instructions=(
            "Expression basis of Guo et al. (CNN-based real-time dense face reconstruction), needed for the "
            "Deep3DFaceRecon face model. Download 'CoarseData' (Coarse_Dataset.zip; Google Drive id "
            "1bw5Xf8C12pWmcMhNEu6PtsYVZkVucEN6, linked from the Deep3DFaceRecon_pytorch README), unzip it and run:\n"
            "  tfk weights import shared/exp_pca_guo /path/to/Exp_Pca.bin"
        ),
        license="research use (Guo et al.; see their repository)",
        description="Guo et al. expression PCA (Exp_Pca.bin) for the Deep3D BFM front model",
        validator="tfk.tdmm.bfm:validate_exp_pca",
        derive="tfk.tdmm.bfm:derive_front_from_exp_pca",
        used_by=_D3D,
    ),
    Artifact(
        id="shared/deep3d_epoch20",
        filename="epoch_20.pth",
        manual=True,
        instructions=(
            "Deep3DFaceRecon_pytorch pretrained model: download epoch_20.pth from the Google Drive folder linked "
            "in the 'Download pretrained model' section of https://github.com/sicxu/Deep3DFaceRecon_pytorch, then:\n"
            "  tfk weights import shared/deep3d_epoch20 /path/to/epoch_20.pth\n"
            "Without it tfk fits the same 257-d coefficients to landmarks instead (labelled source=fit)."
        ),
        license="MIT (Deep3DFaceRecon_pytorch)",
        description="Deep3DFaceRecon ResNet-50 coefficient regressor (net_recon)",
        validator="tfk.tdmm.deep3d:validate_checkpoint",
        used_by=_D3D,
        optional=True,
    ),
    _adnerf(
        "adnerf_exp_info",
        "exp_info.npy",
        "AD-NeRF expression basis on the BFM sub-mesh (Git LFS); size not published: validated by loading "
        "mu_exp/base_exp/sig_exp",
        validator="tfk.tdmm.validators:validate_exp_info",
    ),
    _adnerf("adnerf_keys_info", "keys_info.npy", "AD-NeRF landmark vertex keys and jaw contours", 7375),
    _adnerf("adnerf_topology_info", "topology_info.npy", "AD-NeRF sub-mesh topology (34,650 vertices)", 4145201),
    _adnerf("adnerf_sub_mesh", "sub_mesh.obj", "AD-NeRF sub-mesh (not read by the tracker)", 2338406, True),
    _deep3d(
        "deep3d_similarity_lm3d",
        "similarity_Lm3D_all.mat",
        "Deep3D 68 reference 3D landmarks (alignment); validated: lm [68,3] loads",
        "validate_similarity_lm3d",
    ),
    _deep3d(
        "deep3d_bfm_exp_idx",
        "BFM_exp_idx.mat",
        "Deep3D: BFM vertices of the expression model; validated: trimIndex loads",
        "validate_bfm_exp_idx",
    ),
    _deep3d(
        "deep3d_bfm_front_idx",
        "BFM_front_idx.mat",
        "Deep3D: front-face vertices; validated: idx loads",
        "validate_bfm_front_idx",
    ),
    _deep3d(
        "deep3d_facemodel_info",
        "facemodel_info.mat",
        "Deep3D: triangles, keypoints, point_buf, masks; validated: every variable the converter reads loads",
        "validate_facemodel_info",
    ),
    _deep3d(
        "deep3d_std_exp",
        "std_exp.txt",
        "Deep3D: expression standard deviations; validated: 79 numbers",
        "validate_std_exp",
    ),
    _deep3d(
        "deep3d_select_vertex_id",
        "select_vertex_id.mat",
        "Deep3D: selected vertex ids; validated: a complete MATLAB file",
        "validate_mat",
        optional=True,
    ),
]


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    """This toolbox's shared artifacts (collected by :mod:`tfk.registry`)."""
    return list(ARTIFACTS)
