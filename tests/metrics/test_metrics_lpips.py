import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from tfk.errors import InvalidArtifact, MissingWeights
from tfk.metrics.lpips import (
    LPIPS,
    backbone_feature_shapes,
    lin_shapes,
    load_lpips,
    lpips_batch,
    validate_alexnet_weights,
    validate_lin_weights,
)


def _published_heads(net: str) -> Path:
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the lpips package (which ships the published v0.1 heads) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "weights" / "v0.1" / f"{net}.pth"
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path


def _torchvision_like_state(net: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in torchvision's full AlexNet/VGG16 layout (features + classifier), random values."""
    g = torch.Generator().manual_seed(seed)
    sd = {k: torch.randn(s, generator=g) * 0.05 for k, s in backbone_feature_shapes(net).items()}
    fc_in = 256 * 6 * 6 if net == "alex" else 512 * 7 * 7
    sd.update({"classifier.1.weight": torch.zeros(4096, fc_in), "classifier.6.weight": torch.zeros(1000, 4096)})
    return sd


def _random_model(net: str = "alex", seed: int = 0) -> LPIPS:
    g = torch.Generator().manual_seed(seed)
    model = LPIPS(net)
    heads = {k: torch.rand(s, generator=g) for k, s in lin_shapes(net).items()}  # published heads are >= 0
    model.load_weights(_torchvision_like_state(net, seed), heads)
    return model


def test_torchvision_alexnet_feature_keys():
    shapes = backbone_feature_shapes("alex")
    assert shapes == {
        "features.0.weight": (64, 3, 11, 11),
        "features.0.bias": (64,),
        "features.3.weight": (192, 64, 5, 5),
        "features.3.bias": (192,),
        "features.6.weight": (384, 192, 3, 3),
        "features.6.bias": (384,),
        "features.8.weight": (256, 384, 3, 3),
        "features.8.bias": (256,),
        "features.10.weight": (256, 256, 3, 3),
        "features.10.bias": (256,),
    }
    vgg = backbone_feature_shapes("vgg")
    assert (
        len(vgg) == 26 and vgg["features.28.weight"] == (512, 512, 3, 3) and vgg["features.0.weight"] == (64, 3, 3, 3)
    )


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_published_heads_load_strictly(net):
    path = _published_heads(net)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    assert {k: tuple(v.shape) for k, v in sd.items()} == lin_shapes(net)
    validate_lin_weights(path)
    model = LPIPS(net)
    model.load_weights(_torchvision_like_state(net), sd)
    assert torch.equal(model.lin2.model[1].weight, sd["lin2.model.1.weight"])


def test_wrong_backbone_shape_is_invalid_artifact(tmp_path):
    sd = _torchvision_like_state("alex")
    sd["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    path = tmp_path / "alexnet.pth"
    torch.save(sd, path)
    with pytest.raises(InvalidArtifact, match=r"features\.3\.weight"):
        validate_alexnet_weights(path)


def test_identity_is_zero_and_distance_grows_with_noise():
    model = _random_model()
    img = data.astronaut()[96:224, 160:288]
    rng = np.random.default_rng(0)
    noisy = [np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8) for s in (4, 16, 48)]
    d = lpips_batch(model, np.stack([img] * 4), np.stack([img, *noisy]))
    assert d[0] == pytest.approx(0.0, abs=1e-7)
    assert 0 < d[1] < d[2] < d[3]


def test_load_lpips_from_files_end_to_end(tmp_path):
    heads = {k: torch.rand(s) for k, s in lin_shapes("alex").items()}
    torch.save(heads, tmp_path / "alex.pth")
    torch.save(_torchvision_like_state("alex"), tmp_path / "alexnet.pth")
    model = load_lpips("alex", backbone_path=tmp_path / "alexnet.pth", lin_path=tmp_path / "alex.pth")
    img = data.astronaut()[:64, :64]
    assert lpips_batch(model, img, img)[0] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("download", [False, True])
def test_missing_weights_names_the_pull_command(monkeypatch, download):
    monkeypatch.setenv("TFK_OFFLINE", "1")
    with pytest.raises(MissingWeights) as info:
        load_lpips("alex", download=download)
    assert "tfk weights pull shared/lpips_alex_lin" in str(info.value)
    assert "shared/lpips_alex_lin" in info.value.missing
