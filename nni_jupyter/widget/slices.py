"""Slices of the image for the browser: raw little-endian bytes plus metadata, and display stats.

A slice along ``axis`` at ``index`` is the 2-D array over the two other axes in increasing order
(PROTOCOL.md). Its dtype is one the browser can view without conversion; the volume keeps its own.
"""

from __future__ import annotations

import numpy as np

#: dtypes a slice may travel as (PROTOCOL.md), little-endian.
WIRE_DTYPES = ("uint8", "int8", "uint16", "int16", "int32", "uint32", "float32")
_STATS_MAX_VOXELS = 2_000_000


def wire_dtype(volume: np.ndarray) -> np.dtype:
    """Return the dtype slices of ``volume`` travel as.

    Wire dtypes pass unchanged; bool becomes uint8; 64-bit integers become 32-bit when every value
    fits, else float32; every other type (float16, float64, ...) becomes float32.
    """
    dtype = volume.dtype
    if dtype.name in WIRE_DTYPES:
        return np.dtype(dtype.name).newbyteorder("<")
    if dtype == np.bool_:
        return np.dtype("<u1")
    if dtype.kind in "iu" and volume.size:
        narrow = np.dtype("<i4") if dtype.kind == "i" else np.dtype("<u4")
        info = np.iinfo(narrow)
        if info.min <= volume.min() and volume.max() <= info.max:
            return narrow
    return np.dtype("<f4")


def extract_slice(volume: np.ndarray, axis: int, index: int, dtype: np.dtype) -> tuple[bytes, dict]:
    """Return the slice's bytes (C order, ``dtype``) and its metadata ``{dtype, shape}``.

    Raises
    ------
    ValueError
        If ``axis`` or ``index`` is out of range.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis}")
    if not 0 <= index < volume.shape[axis]:
        raise ValueError(
            f"slice index {index} is outside axis {axis} (0..{volume.shape[axis] - 1})"
        )
    plane = np.take(volume, index, axis=axis)
    data = np.ascontiguousarray(plane, dtype=dtype)
    return data.tobytes(), {"dtype": dtype.name, "shape": [int(s) for s in plane.shape]}


def intensity_stats(volume: np.ndarray) -> dict[str, float]:
    """Return ``{min, max, p01, p99, p005, p995}`` for the browser's auto window.

    ``min``/``max`` are exact; the percentiles come from a regular subsample of at most about two
    million voxels (NaNs ignored), which is plenty for a display window.
    """
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


def default_window(stats: dict[str, float]) -> list[float]:
    """Return ``[level, width]`` spanning the 0.5..99.5 percentiles (width at least 1e-6)."""
    low, high = stats["p005"], stats["p995"]
    return [(low + high) / 2, max(high - low, 1e-6)]
