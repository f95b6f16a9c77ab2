"""An image that cannot be segmented gets an error that says what is actually wrong with it
(issue 13, item 14): not "NaN or inf" for an image that holds neither."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.data import phantom
from nni_jupyter.widget import Segmenter

# the statistics of such images overflow or turn NaN on the way to the error
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _refusal(make_session, image: np.ndarray) -> str:
    with pytest.raises(ValueError) as info:
        Segmenter(image, session=make_session())
    return str(info.value)


def test_a_one_voxel_image_is_too_small(make_session):
    message = _refusal(make_session, np.ones((1, 1, 1), np.float32))
    assert "NaN" not in message
    assert "too small" in message and "at least 2 voxels" in message
    assert "standard deviation" in message  # why: the z-score needs it


def test_an_image_with_one_nonzero_voxel_says_so(make_session):
    image = np.zeros((8, 8, 8), np.float32)
    image[3, 4, 5] = 7.0
    message = _refusal(make_session, image)
    assert "NaN" not in message
    assert "one nonzero voxel" in message and "standard deviation" in message


def test_a_float64_image_beyond_the_float32_range_says_so(make_session):
    image = phantom((32, 32, 32), seed=1)[0].astype(np.float64) * 1e300
    message = _refusal(make_session, image)
    assert "NaN" not in message
    assert "float32" in message and "3.4e+38" in message
    assert f"{np.abs(image).max():.3g}" in message  # the value that exceeds it


def test_nan_and_inf_are_still_named(make_session):
    for value in (np.nan, np.inf):
        image = np.ones((8, 8, 8), np.float32)
        image[2, 2, 2] = value
        assert "NaN or inf" in _refusal(make_session, image)
