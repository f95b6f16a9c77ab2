"""The synthetic phantom: determinism, labels and intensities."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.data import LABEL_NAMES, LABEL_VALUES, ORGAN_LABELS, phantom


@pytest.fixture(scope="module")
def volume() -> tuple[np.ndarray, np.ndarray]:
    return phantom(seed=3)


def test_same_seed_same_phantom(volume):
    image, labels = phantom(seed=3)
    np.testing.assert_array_equal(image, volume[0])
    np.testing.assert_array_equal(labels, volume[1])


def test_different_seeds_differ(volume):
    image, labels = phantom(seed=4)
    assert not np.array_equal(labels, volume[1])
    assert not np.array_equal(image, volume[0])


def test_dtypes_and_shape(volume):
    image, labels = volume
    assert image.shape == labels.shape == (128, 128, 128)
    assert image.dtype == np.int16
    assert labels.dtype == np.uint8


def test_every_structure_is_present_and_named(volume):
    _, labels = volume
    present = set(np.unique(labels).tolist())
    assert present <= set(LABEL_NAMES)
    assert present == set(LABEL_NAMES), f"missing {set(LABEL_NAMES) - present}"
    assert all(LABEL_VALUES[name] == value for value, name in LABEL_NAMES.items())
    assert 0 not in ORGAN_LABELS and LABEL_VALUES["body"] not in ORGAN_LABELS


def test_hounsfield_like_intensities(volume):
    image, labels = volume
    air = image[labels == 0]
    assert -1100 < air.mean() < -900
    assert 5 < air.std() < 60, "air should carry acquisition noise"
    bone = image[labels == LABEL_VALUES["spine"]].mean()
    liver = image[labels == LABEL_VALUES["liver"]].mean()
    aorta = image[labels == LABEL_VALUES["aorta"]].mean()
    assert bone > aorta > liver > 0


def test_lesions_lie_inside_organs(volume):
    _, labels = volume
    lesion = labels == LABEL_VALUES["lesion"]
    # every lesion voxel's 6-neighbours are lesion or a host organ, never air
    for axis in range(3):
        for shift in (-1, 1):
            neighbours = np.roll(labels, shift, axis=axis)[lesion]
            assert not np.any(neighbours == 0)


def test_thin_vessels_are_thin(volume):
    _, labels = volume
    vessel = labels == LABEL_VALUES["vessel"]
    assert vessel.sum() > 100
    # a ball of radius 3 never fits inside a vessel of radius at most 2
    eroded = vessel.copy()
    for _ in range(3):
        for axis in range(3):
            eroded &= np.roll(eroded, 1, axis) & np.roll(eroded, -1, axis)
    assert not eroded.any()


def test_other_shapes_scale_the_anatomy():
    image, labels = phantom(shape=(64, 80, 48), seed=1)
    assert image.shape == labels.shape == (64, 80, 48)
    assert (labels == LABEL_VALUES["liver"]).sum() > 1000


def test_rejects_bad_shape():
    with pytest.raises(ValueError, match="shape must be"):
        phantom(shape=(16, 128, 128))
