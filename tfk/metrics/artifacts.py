"""Weights used by :mod:`tfk.metrics` (light module: plain declarations, no heavy imports).

All of them are public downloads. The LPIPS heads are pinned to the sha256 and size measured on the
copies the ``lpips`` 0.1.4 wheel ships (built from the same repository files). The others have no
published full sha256: each has a validator that loads every tensor, so a download cut short is never
pinned; the first verified download records the hash.
"""

from __future__ import annotations

from tfk.hookspecs import hookimpl
from tfk.weights.artifact import Artifact

_LPIPS_RAW = "https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0.1"

ARTIFACTS: list[Artifact] = [
    Artifact(
        id="shared/lpips_alex_lin",
        filename="lpips_v0.1_alex.pth",
        sources=(f"{_LPIPS_RAW}/alex.pth",),
        license="BSD-2-Clause",
        description="LPIPS v0.1 linear heads for the AlexNet backbone (lin0..lin4.model.1.weight, [1,C,1,1])",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        size=6009,
        validator="tfk.metrics.lpips:validate_lin_weights",
        used_by=("metrics:lpips",),
    ),
    Artifact(
        id="shared/torchvision_alexnet",
        filename="alexnet-owt-7be5be79.pth",
        sources=("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
        license="BSD-3-Clause",
        description="torchvision AlexNet ImageNet weights (LPIPS-alex backbone; features.* keys are used)",
        validator="tfk.metrics.lpips:validate_alexnet_weights",
        torch_hub_name="alexnet-owt-7be5be79.pth",
        used_by=("metrics:lpips",),
    ),
    Artifact(
        id="shared/lpips_vgg_lin",
        filename="lpips_v0.1_vgg.pth",
        sources=(f"{_LPIPS_RAW}/vgg.pth",),
        license="BSD-2-Clause",
        description="LPIPS v0.1 linear heads for the VGG16 backbone",
        validator="tfk.metrics.lpips:validate_lin_weights",
        used_by=("metrics:lpips_vgg",),
        optional=True,
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        size=7289,
    ),
    Artifact(
        id="shared/torchvision_vgg16",
        filename="vgg16-397923af.pth",
        sources=("https://download.pytorch.org/models/vgg16-397923af.pth",),
        license="BSD-3-Clause",
        description="torchvision VGG16 ImageNet weights (LPIPS-vgg backbone; features.* keys are used)",
        validator="tfk.metrics.lpips:validate_vgg16_weights",
        torch_hub_name="vgg16-397923af.pth",
        used_by=("metrics:lpips_vgg",),
        optional=True,
    ),
    Artifact(
        id="shared/pt_inception_fid",
        filename="pt_inception-2015-12-05-6726825d.pth",
        sources=(
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
        ),
        license="Apache-2.0",
        description="pytorch-fid InceptionV3 (TF inception-2015-12-05 port) for FID pool3 features",
        validator="tfk.metrics.fid:validate_inception_weights",
        torch_hub_name="pt_inception-2015-12-05-6726825d.pth",
        used_by=("metrics:fid",),
        optional=True,
    ),
    Artifact(
        id="shared/syncnet_v2",
        filename="syncnet_v2.model",
        sources=("https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",),
        license="MIT (joonson/syncnet_python)",
        description="SyncNet v2 (syncnet_python) for LSE-C / LSE-D",
        validator="tfk.metrics.sync:validate_syncnet_weights",
        used_by=("metrics:lse",),
        optional=True,
    ),
]


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    """This toolbox's shared artifacts (collected by :mod:`tfk.registry`)."""
    return list(ARTIFACTS)
