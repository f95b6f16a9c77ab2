"""Mask geometry of the simulated user, checked against scipy and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.annotation.prompts import Prompt
from nni_jupyter.annotation.raster import rasterize
from nni_jupyter.core.regions import to_slices
from nni_jupyter.evaluation import geometry
from nni_jupyter.evaluation.protocol import lasso_prompt, scribble_prompt

ndimage = pytest.importorskip("scipy.ndimage")


def _random_blobs(seed: int, shape=(24, 20, 16)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.binary_dilation(rng.random(shape) < 0.02, iterations=2)


@pytest.mark.parametrize("seed", range(5))
def test_edt_matches_scipy_with_background_outside(seed):
    mask = _random_blobs(seed)
    expected = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]
    np.testing.assert_allclose(geometry.edt(mask), expected, atol=1e-4)


def test_edt_of_empty_mask_is_zero():
    assert not geometry.edt(np.zeros((4, 5, 6), bool)).any()


@pytest.mark.parametrize("seed", range(5))
def test_connected_components_match_scipy(seed):
    mask = _random_blobs(seed)
    labels, sizes = geometry.connected_components(mask)
    expected, count = ndimage.label(mask)
    assert len(sizes) == count
    assert sorted(sizes.tolist()) == sorted(np.bincount(expected.ravel())[1:].tolist())
    for k in range(1, count + 1):  # same partition, whatever the numbering
        assert len(np.unique(labels[expected == k])) == 1
    assert np.array_equal(labels > 0, mask)


def test_components_are_face_connected():
    mask = np.zeros((3, 3, 3), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # corner-touching only
    _, sizes = geometry.connected_components(mask)
    assert sizes.tolist() == [1, 1]


def test_largest_component():
    mask = np.zeros((10, 10, 10), bool)
    mask[0:2, 0:2, 0:2] = True
    mask[5:9, 5:9, 5:9] = True
    assert geometry.largest_component(mask).sum() == 64


def test_interior_centre_of_a_box_is_its_middle():
    mask = np.zeros((20, 20, 20), bool)
    mask[3:12, 5:10, 8:17] = True  # 9 x 5 x 9: unique centre
    assert geometry.interior_centre(mask) == (7, 7, 12)


def test_interior_centre_prefers_the_thick_part():
    mask = np.zeros((40, 20, 20), bool)
    mask[2:30, 9:11, 9:11] = True  # a thin rod
    mask[30:38, 6:14, 6:14] = True  # a thick cube at its end
    centre = geometry.interior_centre(mask)
    assert 30 <= centre[0] < 38 and mask[centre]


def test_interior_centre_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        geometry.interior_centre(np.zeros((3, 3, 3), bool))


def test_largest_slice():
    mask = np.zeros((10, 12, 14), bool)
    mask[2:5, 3:9, 6] = True
    mask[2:4, 3:9, 7] = True
    assert geometry.largest_slice(mask, axis=2) == (2, 6)  # 18 voxels
    assert geometry.largest_slice(mask, axis=0) == (0, 2)  # 12 voxels
    assert geometry.largest_slice(mask) == (2, 6)


def test_lasso_covers_a_disc_tightly():
    yy, xx = np.mgrid[:40, :40]
    disc = (yy - 20) ** 2 + (xx - 18) ** 2 <= 100
    lasso = geometry.lasso_mask(disc)
    assert (lasso & disc).sum() / disc.sum() > 0.97
    assert lasso.sum() < 1.2 * disc.sum()


def test_scribble_stays_inside_and_spans_the_object():
    plane = np.zeros((30, 30), bool)
    plane[5:25, 12:18] = True  # long along rows
    stroke = geometry.scribble_mask(plane, thickness=2)
    assert stroke.any() and not (stroke & ~plane).any()
    rows = np.flatnonzero(stroke.any(1))
    assert rows.max() - rows.min() >= 10
    random_stroke = geometry.scribble_mask(plane, rng=np.random.default_rng(0))
    assert random_stroke.any() and not (random_stroke & ~plane).any()


def _served_voxels(tool: str, axis: int, index: int, vertices, shape) -> np.ndarray:
    """The voxels the widget sends for a stroke drawn on slice ``index`` along ``axis``."""
    prompt = Prompt(tool, True, axis=axis, index=index, vertices=tuple(map(tuple, vertices)))
    interaction = rasterize(prompt, shape, thickness=(2, 2, 2))
    out = np.zeros(shape, dtype=np.uint8)
    out[to_slices(interaction.bbox)] = interaction.crop
    return out


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_protocol_strokes_are_the_voxels_the_widget_sends(axis):
    truth = np.zeros((30, 28, 26), bool)
    truth[6:22, 5:20, 8:18] = True
    truth[10:14, 8:12, 8:18] = False  # a hole: the strokes must cope with a concave slice
    slice_axis, index = geometry.largest_slice(truth, axis)
    plane = geometry.take_slice(truth, slice_axis, index)
    lasso = _served_voxels("lasso", slice_axis, index, geometry.contour_polygon(plane), truth.shape)
    np.testing.assert_array_equal(lasso_prompt(truth, axis), lasso)
    stroke = geometry.scribble_polyline(plane, thickness=2)
    served = _served_voxels("scribble", slice_axis, index, stroke, truth.shape)
    np.testing.assert_array_equal(scribble_prompt(truth, axis), served)


def test_a_straight_scribble_stays_off_a_gap_in_the_object():
    plane = np.zeros((40, 40), bool)
    plane[5:35, 15:25] = True
    plane[18:22, 15:25] = False  # the principal axis crosses a gap: stop before it
    stroke = geometry.scribble_mask(plane, thickness=2)
    assert stroke.any() and not (stroke & ~plane).any()


def test_scribble_covers_the_brush_the_widget_uses():
    plane = np.zeros((32, 20), bool)
    plane[2:30, 8:13] = True  # eroded by 2, column 10 is left: the stroke runs along it
    stroke = geometry.scribble_mask(plane, thickness=2)
    # brush [c - 1, c + 1) on column 10 holds voxels 9 and 10 (k - 1 < c <= k + 1)
    assert np.flatnonzero(stroke.any(0)).tolist() == [9, 10]
