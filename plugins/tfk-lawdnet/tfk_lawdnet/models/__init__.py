"""LawDNet networks: the generator (with its Local Affine Warping layer and cross-attention), the SyncNet,
the image/video discriminators and the VGG19 perceptual network, plus checkpoint loading and saving.

Importing this package is cheap; each submodule imports torch.
"""

__all__ = ["checkpoint", "discriminator", "lawdnet", "syncnet", "vgg"]
