"""Slices of the image for the browser: raw little-endian bytes plus metadata, and display stats.

A slice along ``axis`` at ``index`` is the 2-D array over the two other axes in increasing order
(PROTOCOL.md). Its dtype is one the browser can view without conversion; the volume keeps its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..volumes import LazyVolume
from ..volumes.display import stride_for

#: dtypes a slice may travel as (PROTOCOL.md), little-endian.
WIRE_DTYPES = ("uint8", "int8", "uint16", "int16", "int32", "uint32", "float32")
_STATS_MAX_VOXELS = 2_000_000
#: A lazy image's planes wider than this (voxels) are sent at every ``stride``-th voxel
#: (:mod:`nni_jupyter.volumes.display`): about what a notebook cell shows.
DISPLAY_MAX_SIDE = 1024
#: Chunks per axis a lazy volume's display statistics are sampled from.
_SAMPLE_GRID = 3


def wire_dtype(volume: np.ndarray) -> np.dtype:
    """Return the dtype slices of ``volume`` travel as.

    Wire dtypes pass unchanged; bool becomes uint8; 64-bit integers become 32-bit when every value
    fits, else float32; every other type (float16, float64, ...) becomes float32.
    """
    dtype = volume.dtype
    if dtype.name in WIRE_DTYPES:
        wire: np.dtype[Any] = np.dtype(dtype.name).newbyteorder("<")
        return wire
    if dtype == np.bool_:
        return np.dtype("<u1")
    if dtype.kind in "iu" and volume.size and not isinstance(volume, LazyVolume):
        narrow = np.dtype("<i4") if dtype.kind == "i" else np.dtype("<u4")
        info = np.iinfo(narrow)
        if info.min <= volume.min() and volume.max() <= info.max:
            return narrow
    return np.dtype("<f4")


def extract_slice(
    volume: np.ndarray, axis: int, index: int, dtype: np.dtype[Any]
) -> tuple[bytes, dict[str, Any]]:
    """Return the slice's bytes (C order, ``dtype``) and its metadata ``{dtype, shape}``.

    Raises
    ------
    ValueError
        If ``axis`` or ``index`` is out of range.
    """
    _check_index(volume, axis, index)
    plane = volume[(slice(None),) * axis + (index,)]  # a lazy volume reads only this plane
    data = np.ascontiguousarray(plane, dtype=dtype)
    return data.tobytes(), {"dtype": dtype.name, "shape": [int(s) for s in plane.shape]}


def _check_index(volume: np.ndarray, axis: int, index: int) -> None:
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis}")
    if not 0 <= index < volume.shape[axis]:
        raise ValueError(
            f"slice index {index} is outside axis {axis} (0..{volume.shape[axis] - 1})"
        )


def extract_slices(
    volume: np.ndarray, axis: int, indices: range, dtype: np.dtype[Any]
) -> tuple[list[bytes], dict[str, Any]]:
    """Return the bytes of the slices ``indices`` (consecutive, either direction) and their
    metadata, as :func:`extract_slice` does for one.

    The run is read as one block: along the array's last axis the slices are interleaved in
    memory, and one pass over the block costs little more than one slice gathered alone.
    """
    if not indices:
        raise ValueError("a run of slices needs at least one index")
    if abs(indices.step) != 1:
        raise ValueError(f"a run of slices is consecutive (step +1 or -1); got {indices.step}")
    low, high = min(indices), max(indices)
    _check_index(volume, axis, low)
    _check_index(volume, axis, high)
    block = volume[(slice(None),) * axis + (slice(low, high + 1),)]
    planes = np.moveaxis(np.asarray(block, dtype=dtype), axis, 0)
    data = [np.ascontiguousarray(planes[index - low]).tobytes() for index in indices]
    return data, {"dtype": dtype.name, "shape": [int(s) for s in planes.shape[1:]]}


def refinement(
    plane: tuple[int, int],
    stride: int | None,
    region: tuple[tuple[int, int], tuple[int, int]] | None,
    max_side: int,
) -> tuple[int, tuple[tuple[int, int], tuple[int, int]] | None]:
    """The stride and region a lazy image's zoomed view is refined at (``get_slice`` with a
    ``stride`` or ``region``): the stride asked (default 1), coarsened until the region's
    longest side (the whole ``plane`` without one) is at most ``max_side`` strides, so a request
    costs a bounded read whatever it asks; the region's starts rounded down to that stride.
    """
    (u0, u1), (v0, v1) = region or ((0, plane[0]), (0, plane[1]))
    served = max(stride or 1, stride_for((u1 - u0, v1 - v0), max_side))
    if region is None:
        return served, None
    return served, ((u0 - u0 % served, u1), (v0 - v0 % served, v1))


def intensity_stats(volume: np.ndarray | LazyVolume) -> dict[str, float]:
    """Return ``{min, max, p01, p99, p005, p995}`` for the browser's auto window.

    ``min``/``max`` are exact; the percentiles come from a regular subsample of at most about two
    million voxels (NaNs ignored), which is plenty for a display window. A lazy volume is not
    read whole: everything comes from a few chunks spread through it (min/max of those).
    """
    if isinstance(volume, LazyVolume):
        return _sampled_stats(volume)
    step = max(1, int(np.ceil((volume.size / _STATS_MAX_VOXELS) ** (1 / 3))))
    sample = np.asarray(volume[::step, ::step, ::step], dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return {k: 0.0 for k in ("min", "max", "p01", "p99", "p005", "p995")}
    p005, p01, p99, p995 = np.percentile(sample, [0.5, 1, 99, 99.5])
    finite = volume if volume.dtype.kind in "iub" else volume[np.isfinite(volume)]
    return {
        "min": float(np.min(finite)),
        "max": float(np.max(finite)),
        "p01": float(p01),
        "p99": float(p99),
        "p005": float(p005),
        "p995": float(p995),
    }


def _sampled_stats(volume: LazyVolume) -> dict[str, float]:
    """Display statistics of a lazy volume from whole chunks on a regular grid through it (up to
    ``_SAMPLE_GRID`` per axis): each is decoded once, and the view's first slice shares them."""
    corners = []
    for size, edge in zip(volume.shape[-3:], volume.chunks[-3:], strict=True):
        starts = range(0, size, max(1, edge))
        picks = np.linspace(0, len(starts) - 1, min(_SAMPLE_GRID, len(starts))).round()
        corners.append([(starts[int(k)], min(starts[int(k)] + edge, size)) for k in picks])
    count = len(corners[0]) * len(corners[1]) * len(corners[2])
    size = int(np.prod([hi - lo for lo, hi in (c[0] for c in corners)]))
    step = max(1, int(np.ceil((size * count / _STATS_MAX_VOXELS) ** (1 / 3))))
    blocks = [  # each block subsampled before conversion: about two million voxels in all
        np.asarray(volume[x0:x1, y0:y1, z0:z1][::step, ::step, ::step], np.float64).ravel()
        for x0, x1 in corners[0]
        for y0, y1 in corners[1]
        for z0, z1 in corners[2]
    ]
    sample = np.concatenate(blocks)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return {k: 0.0 for k in ("min", "max", "p01", "p99", "p005", "p995")}
    p005, p01, p99, p995 = np.percentile(sample, [0.5, 1, 99, 99.5])
    values = (sample.min(), sample.max(), p01, p99, p005, p995)
    return dict(zip(("min", "max", "p01", "p99", "p005", "p995"), map(float, values), strict=True))
