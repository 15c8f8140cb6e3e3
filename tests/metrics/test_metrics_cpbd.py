import itertools

import cv2
import numpy as np
import pytest
from skimage import data

from tfk.metrics.cpbd import cpbd


def _gray(size=(256, 256)) -> np.ndarray:
    img = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def test_blur_lowers_cpbd_monotonically():
    img = _gray()
    values = [cpbd(img)] + [cpbd(cv2.GaussianBlur(img, (0, 0), s)) for s in (0.7, 1.2, 2.0, 3.0)]
    assert values[0] > 0.3
    assert all(a > b for a, b in itertools.pairwise(values)), values


def test_rgb_input_and_flat_image():
    rgb = data.astronaut()[:192, :192]
    assert cpbd(rgb) == pytest.approx(cpbd(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))
    assert cpbd(np.full((128, 128), 90, np.uint8)) == 0.0


def _reference_cpbd():
    """The PyPI ``cpbd`` 1.0.7 reference; it imports ``scipy.ndimage.imread`` (removed), which is stubbed."""
    import importlib.util

    if importlib.util.find_spec("cpbd") is None:
        pytest.skip("the reference cpbd package is not installed")
    import scipy.ndimage

    if not hasattr(scipy.ndimage, "imread"):
        scipy.ndimage.imread = None
    import cpbd as ref

    return ref.compute


@pytest.mark.parametrize("name,blur", [("astronaut", 0), ("astronaut", 1.0), ("camera", 0), ("coffee", 1.5)])
def test_matches_reference_package(name, blur):
    compute = _reference_cpbd()
    img = getattr(data, name)()
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    img = cv2.resize(img, (200, 136), interpolation=cv2.INTER_AREA)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    assert cpbd(img) == pytest.approx(float(compute(img)), abs=1e-12)
