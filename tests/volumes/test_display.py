"""Slices at the displayed resolution equal the full slice taken every ``stride`` voxels."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.volumes import LazyVolume
from nni_jupyter.volumes.display import DisplayReader, stride_for
from nni_jupyter.volumes.lazy import CoarserLevel

zarr = pytest.importorskip("zarr", reason="needs the zarr extra: pip install 'nni_jupyter[zarr]'")


def _stored(tmp_path, data: np.ndarray, chunks: tuple[int, ...]):
    stored = zarr.create_array(
        tmp_path / "v.zarr", shape=data.shape, chunks=chunks, dtype=data.dtype
    )
    stored[...] = data
    return stored


@pytest.mark.parametrize("stride", [1, 2, 3, 5])
def test_decimated_slices_match_the_full_ones(tmp_path, stride: int) -> None:
    rng = np.random.default_rng(0)
    zyx = rng.integers(0, 60000, (37, 45, 29), dtype=np.uint16)
    volume = LazyVolume(_stored(tmp_path, zyx, (8, 16, 7)), order=(2, 1, 0))
    full = zyx.transpose(2, 1, 0)  # [X, Y, Z]
    reader = DisplayReader(volume)
    for axis in range(3):
        for index in (0, full.shape[axis] // 2, full.shape[axis] - 1):
            want = np.take(full, index, axis=axis)[::stride, ::stride]
            for _ in range(2):  # second time from the cache
                np.testing.assert_array_equal(reader.slice(axis, index, stride), want)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_a_region_is_the_same_voxels_cut_from_the_plane(tmp_path, stride: int) -> None:
    rng = np.random.default_rng(2)
    zyx = rng.integers(-1000, 3000, (33, 40, 27), dtype=np.int16)
    volume = LazyVolume(_stored(tmp_path, zyx, (8, 16, 7)), order=(2, 1, 0))
    full = zyx.transpose(2, 1, 0)
    reader = DisplayReader(volume)
    for axis in range(3):
        plane = np.take(full, 5, axis=axis)
        for (u0, u1), (v0, v1) in [((0, 9), (3 * stride, 20)), ((6 * stride, 26), (0, 27))]:
            u1, v1 = min(u1, plane.shape[0]), min(v1, plane.shape[1])
            got = reader.slice(axis, 5, stride, ((u0, u1), (v0, v1)))
            np.testing.assert_array_equal(got, plane[u0:u1:stride, v0:v1:stride])


def test_a_view_counts_strides_from_its_own_origin(tmp_path) -> None:
    data = np.arange(30 * 31 * 32, dtype=np.int32).reshape(30, 31, 32)
    volume = LazyVolume(_stored(tmp_path, data, (7, 9, 11))).view(
        (slice(3, 28), slice(5, 31), slice(2, 30))
    )
    part = data[3:28, 5:31, 2:30]
    reader = DisplayReader(volume)
    np.testing.assert_array_equal(reader.slice(2, 4, 3), part[:, :, 4][::3, ::3])
    np.testing.assert_array_equal(reader.slice(0, 0, 2), part[0][::2, ::2])


def test_irregular_dask_chunks() -> None:
    da = pytest.importorskip("dask.array", reason="needs dask: pip install 'nni_jupyter[cluster]'")
    data = np.random.default_rng(1).normal(size=(20, 21, 22)).astype(np.float32)
    volume = LazyVolume(da.from_array(data, chunks=((5, 15), (10, 11), (3, 19))))
    np.testing.assert_array_equal(DisplayReader(volume).slice(1, 10, 4), data[:, 10, :][::4, ::4])


def test_bad_requests_say_what_was_wrong(tmp_path) -> None:
    volume = LazyVolume(np.zeros((4, 5, 6), dtype=np.uint8))
    reader = DisplayReader(volume)
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        reader.slice(3, 0, 1)
    with pytest.raises(ValueError, match=r"slice index 6 is outside axis 2 \(0..5\)"):
        reader.slice(2, 6, 1)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        reader.slice(0, 0, 0)
    with pytest.raises(ValueError, match="is not inside the plane"):
        reader.slice(2, 0, 1, ((0, 5), (2, 2)))
    with pytest.raises(ValueError, match="not a multiple of the stride 2"):
        reader.slice(2, 0, 2, ((1, 3), (0, 4)))
    with pytest.raises(ValueError, match="3-D volume without leading axes"):
        DisplayReader(volume[None])


def test_stride_brings_the_longest_side_under_the_limit() -> None:
    assert stride_for((2048, 2048), 1024) == 2
    assert stride_for((2048, 1000), 700) == 3
    assert stride_for((512, 300), 1024) == 1


def _pyramid(fine: np.ndarray, factors: list[tuple[int, int, int]]) -> list[CoarserLevel]:
    """Coarser levels told apart from decimation: level k holds the decimated voxels + 1000 k."""
    levels = []
    for k, f in enumerate(factors, start=1):
        data = (fine[:: f[0], :: f[1], :: f[2]] + 1000 * k).astype(fine.dtype)
        levels.append(CoarserLevel(f, LazyVolume(data)))
    return levels


def test_the_coarsest_level_a_stride_allows_is_read() -> None:
    fine = np.random.default_rng(3).integers(0, 500, (40, 36, 20), dtype=np.int32)
    reader = DisplayReader(LazyVolume(fine), coarser=_pyramid(fine, [(2, 2, 2), (4, 4, 4)]))
    for stride, level in [(1, 0), (2, 1), (3, 0), (4, 2), (6, 1), (8, 2)]:
        z = 9 - 9 % (2**level)  # the level's voxel covering z = 9 is made from z = 8
        want = fine[::stride, ::stride, z] + 1000 * level
        np.testing.assert_array_equal(reader.slice(2, 9, stride), want)
    # a region of the plane at stride 2 comes from level 1 too
    got = reader.slice(0, 13, 2, ((4, 31), (6, 20)))
    np.testing.assert_array_equal(got, fine[13 - 13 % 2, 4:31:2, 6:20:2] + 1000)


def test_a_level_coarser_in_plane_only_serves_that_plane() -> None:
    fine = np.random.default_rng(4).integers(0, 500, (30, 30, 12), dtype=np.int32)
    reader = DisplayReader(LazyVolume(fine), coarser=_pyramid(fine, [(2, 2, 1)]))
    np.testing.assert_array_equal(reader.slice(2, 5, 2), fine[::2, ::2, 5] + 1000)
    # along x the plane is (y, z): factors 2 and 1 differ, so the full level is decimated
    np.testing.assert_array_equal(reader.slice(0, 5, 2), fine[5, ::2, ::2])


def test_a_level_rounded_down_repeats_its_edge() -> None:
    fine = np.random.default_rng(5).integers(0, 500, (9, 7, 5), dtype=np.int32)
    small = (fine[:8:2, :6:2, :4:2] + 1000).astype(np.int32)  # floor(n / 2) voxels per side
    reader = DisplayReader(LazyVolume(fine), coarser=[CoarserLevel((2, 2, 2), LazyVolume(small))])
    got = reader.slice(2, 4, 2)
    assert got.shape == (5, 4)  # ceil(9 / 2), ceil(7 / 2): the contract holds
    # z = 4 would be coarse voxel 2, past the level's last (1): the last one is shown
    np.testing.assert_array_equal(got[:4, :3], small[:, :, 1])
    np.testing.assert_array_equal(got[4, :3], small[3, :, 1])
    np.testing.assert_array_equal(got[:, 3], got[:, 2])
    # the very last voxel row has no coarse voxel at all: the full level serves it
    np.testing.assert_array_equal(reader.slice(2, 4, 2, ((8, 9), (0, 7))), fine[8:9, ::2, 4])
