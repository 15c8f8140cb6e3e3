import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tfk.metrics.image import PSNR_CAP, psnr, psnr_batch, ssim, ssim_batch


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _sk_ssim(a, b, channel_axis=-1):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=channel_axis, data_range=255
    )


@pytest.mark.parametrize("sigma", [3.0, 20.0, 60.0])
def test_ssim_matches_scikit_image_rgb(sigma):
    a = data.astronaut()[100:260, 150:330]
    b = _noisy(a, sigma)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b), abs=1e-4)


def test_ssim_matches_scikit_image_gray_and_shifted():
    a = data.camera()[:200, :150]
    b = np.roll(a, 3, axis=1)
    assert ssim(a, b) == pytest.approx(_sk_ssim(a, b, channel_axis=None), abs=1e-4)


def test_ssim_identity_and_batch():
    a = data.astronaut()[:64, :80]
    b = _noisy(a, 10)
    batch = ssim_batch(np.stack([a, a]), np.stack([a, b]))
    assert batch[0] == pytest.approx(1.0, abs=1e-12)
    assert batch[1] == pytest.approx(_sk_ssim(a, b), abs=1e-4)


def test_ssim_too_small_raises():
    a = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError):
        ssim(a, a)


def test_psnr_matches_scikit_image_and_caps_identity():
    a = data.astronaut()[:128, :128]
    b = _noisy(a, 12)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    assert psnr(a, a) == PSNR_CAP
    per = psnr_batch(np.stack([a, b]), np.stack([b, b]))
    assert per[1] == PSNR_CAP and per[0] < 40


def test_psnr_shape_mismatch():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
