"""Gestures become exactly the voxels PROTOCOL.md's rasterization rules say, on every axis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nni_jupyter.annotation.prompts import MaskCrop, Prompt
from nni_jupyter.annotation.raster import rasterize
from nni_jupyter.core.gestures import (
    lasso_region,
    plane_axes,
    round_half_up,
    scribble_region,
)
from nni_jupyter.core.regions import to_slices

SHAPE = (40, 36, 32)


def volume_of(interaction) -> np.ndarray:
    """The interaction's voxels as a full boolean volume."""
    out = np.zeros(SHAPE, dtype=bool)
    if interaction.crop is None:
        out[to_slices(interaction.bbox)] = True
    else:
        out[to_slices(interaction.bbox)] = interaction.crop != 0
    return out


def plane_mask(region, plane) -> np.ndarray:
    out = np.zeros(plane, dtype=bool)
    if region is not None:
        (p0, q0), crop = region
        out[p0 : p0 + crop.shape[0], q0 : q0 + crop.shape[1]] = crop
    return out


def slice_volume(axis: int, index: int, plane_voxels: np.ndarray) -> np.ndarray:
    out = np.zeros(SHAPE, dtype=bool)
    view = [slice(None)] * 3
    view[axis] = index
    out[tuple(view)] = plane_voxels
    return out


def test_round_half_up_matches_javascript_math_round():
    assert round_half_up([0.5, 1.5, 2.5, -0.5, -1.5, 2.49]).tolist() == [1, 2, 3, 0, -1, 2]


def test_plane_axes():
    assert [plane_axes(a) for a in range(3)] == [(1, 2), (0, 2), (0, 1)]


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_box_covers_rounded_corners_inclusive_one_voxel_deep(axis):
    p_axis, q_axis = plane_axes(axis)
    box = Prompt("box", True, axis=axis, index=7, vertices=((9.6, 2.4), (3.5, 12.5)))
    interaction = rasterize(box, SHAPE)
    expected_plane = np.zeros((SHAPE[p_axis], SHAPE[q_axis]), dtype=bool)
    expected_plane[4:11, 2:14] = True  # p: round(3.5)=4 .. round(9.6)=10; q: 2 .. round(12.5)=13
    assert interaction.kind == "bbox" and interaction.positive
    assert np.array_equal(volume_of(interaction), slice_volume(axis, 7, expected_plane))
    assert interaction.bbox[axis] == [7, 8]


def test_box_is_clipped_to_the_slice_and_rejected_outside_it():
    interaction = rasterize(
        Prompt("box", True, axis=2, index=0, vertices=((-5, -5), (2, 50))), SHAPE
    )
    assert interaction.bbox == [[0, 3], [0, 36], [0, 1]]
    with pytest.raises(ValueError, match="outside the slice"):
        rasterize(Prompt("box", True, axis=2, index=0, vertices=((-9, -9), (-2, -3))), SHAPE)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_point_rounds_half_up_on_its_slice(axis):
    p_axis, q_axis = plane_axes(axis)
    interaction = rasterize(
        Prompt("point", False, axis=axis, index=3, vertices=((4.5, 0.49),)), SHAPE
    )
    expected = [0.0, 0.0, 0.0]
    expected[axis], expected[p_axis], expected[q_axis] = 3, 5, 0
    assert interaction.kind == "point" and not interaction.positive
    assert interaction.point == tuple(expected)


def test_point_outside_the_slice_is_an_error():
    with pytest.raises(ValueError, match="outside the slice"):
        rasterize(Prompt("point", True, axis=2, index=3, vertices=((39.5, 2),)), SHAPE)
    with pytest.raises(ValueError, match="outside axis 2"):
        rasterize(Prompt("point", True, axis=2, index=32, vertices=((1, 2),)), SHAPE)


@pytest.mark.parametrize("thickness", [1, 2, 3, 4])
def test_straight_scribble_is_exactly_its_thickness_wide(thickness):
    plane = (30, 30)
    horizontal = plane_mask(
        scribble_region(np.array([[5.0, 10.0], [20.0, 10.0]]), plane, (1, thickness)), plane
    )
    rows = np.flatnonzero(horizontal.any(axis=0))
    assert len(rows) == thickness
    # brush [c - t/2, c + t/2) around q = 10
    assert rows.tolist() == list(range(10 - thickness // 2, 10 - thickness // 2 + thickness))
    assert horizontal.sum(axis=1)[horizontal.any(axis=1)].tolist() == [thickness] * 16
    assert np.flatnonzero(horizontal.any(axis=1)).tolist() == list(range(5, 21))


def test_scribble_single_vertex_stamps_a_block_and_anisotropic_widths():
    plane = (30, 30)
    dot = plane_mask(scribble_region(np.array([[7.0, 7.0]]), plane, (2, 3)), plane)
    expected = np.zeros(plane, dtype=bool)
    expected[6:8, 6:9] = True  # p in [6, 8), q in [5.5, 8.5)
    assert np.array_equal(dot, expected)


def test_diagonal_scribble_of_width_one_is_the_diagonal():
    plane = (12, 12)
    line = plane_mask(scribble_region(np.array([[2.0, 2.0], [10.0, 10.0]]), plane, (1, 1)), plane)
    expected = np.zeros(plane, dtype=bool)
    expected[np.arange(2, 11), np.arange(2, 11)] = True
    assert np.array_equal(line, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_scribble_uses_the_thickness_of_the_slice_axes(axis):
    thickness = (2, 3, 4)
    p_axis, q_axis = plane_axes(axis)
    stroke = Prompt("scribble", True, axis=axis, index=6, vertices=((10.0, 10.0),))
    interaction = rasterize(stroke, SHAPE, thickness)
    assert interaction.kind == "scribble"
    assert interaction.crop.shape[axis] == 1
    sizes = [hi - lo for lo, hi in interaction.bbox]
    assert (sizes[p_axis], sizes[q_axis]) == (thickness[p_axis], thickness[q_axis])
    assert interaction.crop.all()


def test_scribble_off_the_slice_is_an_error():
    with pytest.raises(ValueError, match="covers no voxel"):
        rasterize(
            Prompt("scribble", True, axis=2, index=1, vertices=((-20, -20), (-30, -2))), SHAPE
        )


def test_lasso_square_fills_half_open_interior():
    plane = (10, 10)
    square = plane_mask(lasso_region(np.array([[0, 0], [4, 0], [4, 4], [0, 4.0]]), plane), plane)
    expected = np.zeros(plane, dtype=bool)
    expected[0:4, 0:4] = True
    assert np.array_equal(square, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_lasso_on_every_axis_fills_the_same_plane_voxels(axis):
    vertices = ((2.2, 3.1), (15.7, 4.4), (9.3, 17.8), (4.1, 12.0))
    interaction = rasterize(Prompt("lasso", True, axis=axis, index=4, vertices=vertices), SHAPE)
    p_axis, q_axis = plane_axes(axis)
    plane = (SHAPE[p_axis], SHAPE[q_axis])
    expected = plane_mask(lasso_region(np.array(vertices), plane), plane)
    assert np.array_equal(volume_of(interaction), slice_volume(axis, 4, expected))
    assert expected.sum() > 50


def test_degenerate_lasso_is_an_error():
    with pytest.raises(ValueError, match="covers no voxel"):
        rasterize(Prompt("lasso", True, axis=1, index=0, vertices=((1, 1), (5, 5), (9, 9))), SHAPE)


coordinate = st.floats(min_value=-3, max_value=25, allow_nan=False).map(lambda v: round(v, 2))


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=3))
def test_lasso_triangle_matches_the_geometric_interior(triangle):
    plane = (24, 24)
    filled = plane_mask(lasso_region(np.array(triangle, dtype=float), plane), plane)
    a, b, c = triangle
    area = _cross(a, b, c)
    p, q = np.meshgrid(np.arange(plane[0]), np.arange(plane[1]), indexing="ij")
    points = np.stack([p, q], axis=-1).astype(float)
    signs = [
        (e1[0] - e0[0]) * (points[..., 1] - e0[1]) - (e1[1] - e0[1]) * (points[..., 0] - e0[0])
        for e0, e1 in ((a, b), (b, c), (c, a))
    ]
    inside = np.all([np.sign(s) == np.sign(area) for s in signs], axis=0) & (area != 0)
    edge = np.any([np.abs(s) < 1e-6 for s in signs], axis=0)
    # voxel centres strictly inside are filled, strictly outside are not; on an edge either way
    assert np.array_equal(filled[~edge], inside[~edge])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=4),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_scribble_matches_a_densely_sampled_brush(polyline, t_p, t_q):
    plane = (24, 24)
    vertices = np.array(polyline, dtype=float)
    exact = plane_mask(scribble_region(vertices, plane, (t_p, t_q)), plane)
    # sample the polyline densely and stamp brushes [c - t/2, c + t/2) slightly shrunk / grown
    samples = [vertices[:1]]
    for a, b in zip(vertices[:-1], vertices[1:], strict=True):
        s = np.linspace(0, 1, 801)[:, None]
        samples.append(a + s * (b - a))
    points = np.concatenate(samples)
    half = np.array([t_p, t_q]) / 2

    k = np.stack(np.meshgrid(np.arange(24), np.arange(24), indexing="ij"), axis=-1)[:, :, None]

    def stamp(margin: float) -> np.ndarray:
        hit = (points - half - margin <= k) & (k < points + half + margin)
        return np.all(hit, axis=-1).any(axis=-1)

    assert not (stamp(-0.02) & ~exact).any()  # every clearly covered voxel is in the stroke
    assert not (exact & ~stamp(0.02)).any()  # every stroke voxel is (nearly) covered


def test_volume_forms_are_checked_against_the_image():
    assert rasterize(Prompt("point", True, point=(39.4, 0, 31)), SHAPE).point == (39.4, 0.0, 31.0)
    with pytest.raises(ValueError, match="outside the image"):
        rasterize(Prompt("point", True, point=(39.6, 0, 0)), SHAPE)
    bbox = rasterize(Prompt("box", False, bbox=[[1, 5], [2, 3], [0, 32]]), SHAPE)
    assert bbox.bbox == [[1, 5], [2, 3], [0, 32]] and not bbox.positive
    with pytest.raises(ValueError, match="exceeds the image on axis 2"):
        rasterize(Prompt("box", True, bbox=[[1, 5], [2, 3], [0, 33]]), SHAPE)
    mask = np.zeros(SHAPE, dtype=np.uint8)
    with pytest.raises(ValueError, match="empty"):
        rasterize(Prompt("scribble", True, mask=MaskCrop.from_volume(mask)), SHAPE)
    mask[3, 4:9, 5] = 1
    scribble = rasterize(Prompt("scribble", True, mask=MaskCrop.from_volume(mask)), SHAPE)
    assert scribble.bbox == [[3, 4], [4, 9], [5, 6]] and scribble.crop.all()
    with pytest.raises(ValueError, match="must equal the image shape"):
        rasterize(Prompt("lasso", True, mask=MaskCrop.from_volume(mask[:-1])), SHAPE)
    empty = rasterize(Prompt("mask", mask=MaskCrop.from_volume(np.zeros(SHAPE))), SHAPE)
    assert empty.kind == "initial_seg" and empty.crop is None
