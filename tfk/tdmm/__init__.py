"""tfk.tdmm [extra tdmm]: the shared 3D morphable face model layer (Basel Face Model 2009).

Importing this package is cheap; submodules load torch/numpy/scipy.

- :mod:`tfk.tdmm.artifacts` - ``shared/bfm2009`` (manual, validated, derived once), ``shared/exp_pca_guo``,
  ``shared/deep3d_epoch20`` and the public AD-NeRF / Deep3DFaceRecon helper files.
- :mod:`tfk.tdmm.bfm` - ``validate_bfm``, ``derive_bfm`` (AD-NeRF sub-mesh model + Deep3D front model),
  ``adnerf_model_path()`` / ``deep3d_model_path()`` (``MissingWeights`` with the exact import command).
- :mod:`tfk.tdmm.synthetic` - ``make_synthetic_bfm`` (a small BFM-structured model and helper files, for tests).
- :mod:`tfk.tdmm.render` - pure-PyTorch differentiable rasteriser, interpolation, normals, SH lighting.
- :mod:`tfk.tdmm.camera` - the originals' rotation conventions and pinhole camera.
- :mod:`tfk.tdmm.model` - ``FaceModel`` (AD-NeRF ``Face_3DMM``: geometry, texture, silhouette landmarks).
- :mod:`tfk.tdmm.tracker` - ``track_video`` and its resumable stages -> ``track_params.pt``,
  ``transforms_{train,val}.json`` (:mod:`tfk.tdmm.transforms`); :mod:`tfk.tdmm.pipeline` - ``tracking_steps``, the
  same stages as resumable :class:`tfk.workspace.Step` s.
- :mod:`tfk.tdmm.deep3d` - the Deep3DFaceRecon ResNet-50 regressor (``epoch_20.pth`` layout), POS alignment,
  coefficient files; :mod:`tfk.tdmm.fit257` - ``compute_coeffs`` (regressor, or the labelled fitting substitute).
"""
