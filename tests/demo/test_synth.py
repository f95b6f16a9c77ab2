"""Domain-randomized volumes: every family renders objects, repeatably, in random appearance."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.demo import synth
from nni_jupyter.demo.simulate import split_objects

FAMILIES = [f for f in synth.TRAINING_FAMILIES + synth.HELD_OUT_FAMILIES if f != "phantom"]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_renders_objects_repeatably(family):
    first = synth.synth_volume(3, family, (64, 64, 64))
    again = synth.synth_volume(3, family, (64, 64, 64))
    assert first.image.shape == first.labels.shape == (64, 64, 64)
    assert np.array_equal(first.image, again.image) and np.array_equal(first.labels, again.labels)
    assert np.isfinite(first.image).all() and first.image.std() > 0
    volume = split_objects(first.image, first.labels)
    assert volume.objects, f"{family} seed 3 holds no object of 20 voxels"
    other = synth.synth_volume(4, family, (64, 64, 64))
    assert not np.array_equal(first.labels, other.labels)


def test_objects_differ_from_their_surroundings():
    volume = synth.synth_volume(5, "blobs", (64, 64, 64))
    contrasts = []
    for value in np.unique(volume.labels[volume.labels > 0]):
        inside = volume.labels == value
        if inside.sum() < 200:
            continue
        contrasts.append(abs(np.median(volume.image[inside]) - np.median(volume.image[~inside])))
    assert contrasts and max(contrasts) > 0.05 * np.ptp(volume.image)


def test_held_out_families_never_feed_training():
    assert not set(synth.HELD_OUT_FAMILIES) & set(synth.TRAINING_FAMILIES)
    drawn = {synth.training_family(seed) for seed in range(100_000, 100_200)}
    assert drawn == set(synth.TRAINING_FAMILIES)


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown shape family 'tori'"):
        synth.synth_volume(0, "tori")
