import numpy as np
import pytest
import torch

from tfk.errors import InvalidArtifact
from tfk.metrics.fid import (
    FeatureStats,
    FIDInceptionV3,
    fid_from_features,
    frechet_distance,
    inception_features,
    inception_shapes,
    load_inception,
    validate_inception_weights,
)


def _spd(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(d, d))
    return m @ m.T + d * np.eye(d)


def test_frechet_1d_closed_form():
    # N(m1, s1^2) vs N(m2, s2^2): (m1-m2)^2 + (s1-s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)


def test_frechet_diagonal_closed_form():
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_frechet_scaled_full_covariance():
    # sigma2 = c^2 sigma1 (non-diagonal) -> Tr((1-c)^2 sigma1)
    s1 = _spd(6, 0)
    mu = np.arange(6.0)
    assert frechet_distance(mu, s1, mu, s1) == pytest.approx(0.0, abs=1e-8)
    c = 1.7
    assert frechet_distance(mu, s1, mu + 1, c * c * s1) == pytest.approx(6 + (1 - c) ** 2 * np.trace(s1))


def test_streaming_stats_match_numpy_cov_and_rank_deficient_is_finite():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(40, 8))
    st = FeatureStats(8)
    st.update(f[:15])
    st.update(f[15:])
    mu, cov = st.mean_cov()
    np.testing.assert_allclose(mu, f.mean(0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(f, rowvar=False), atol=1e-10)
    # fewer samples than dimensions: singular covariances, still a finite, non-negative distance
    few = fid_from_features(rng.normal(size=(5, 32)), rng.normal(size=(6, 32)) + 0.5)
    assert np.isfinite(few) and few > 0


def test_inception_key_contract():
    shapes = inception_shapes()
    assert shapes["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert shapes["Conv2d_1a_3x3.bn.running_var"] == (32,)
    assert shapes["Mixed_5b.branch_pool.conv.weight"] == (32, 192, 1, 1)
    assert shapes["Mixed_6e.branch7x7dbl_5.conv.weight"] == (192, 192, 1, 7)
    assert shapes["Mixed_7a.branch3x3_2.conv.weight"] == (320, 192, 3, 3)
    assert shapes["Mixed_7c.branch3x3dbl_1.conv.weight"] == (448, 2048, 1, 1)
    assert shapes["Mixed_7c.branch_pool.conv.weight"] == (192, 2048, 1, 1)
    assert shapes["fc.weight"] == (1008, 2048) and shapes["fc.bias"] == (1008,)
    assert not any(k.startswith("AuxLogits") for k in shapes)
    params = sum(
        int(np.prod(s))
        for k, s in shapes.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert params == 23_850_960  # x4 bytes = 95.4 MB, the size class of pt_inception-2015-12-05-6726825d.pth


def test_load_inception_from_file_and_features(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}  # like the 2019 file
    path = tmp_path / "pt_inception.pth"
    torch.save(sd, path)
    validate_inception_weights(path)
    loaded = load_inception(path=path)
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    feats = inception_features(loaded, frames)
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()
    np.testing.assert_allclose(feats, inception_features(net, frames), rtol=1e-5, atol=1e-6)


def test_inception_validator_rejects_wrong_file(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, path)
    with pytest.raises(InvalidArtifact):
        validate_inception_weights(path)
