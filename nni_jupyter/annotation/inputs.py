"""Checks of what users hand an annotation: the image, the spacing, vertex lists."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..volumes import LazyVolume, as_lazy, is_lazy


def image_4d(image: Any) -> Any:
    """Return ``image`` as ``[1, X, Y, Z]`` (a view, never a copy of the data).

    Zarr and Dask arrays, memory maps and h5py datasets become a
    :class:`~nni_jupyter.volumes.LazyVolume`: read region by region, never whole.

    Raises
    ------
    ValueError
        If it is not ``[X, Y, Z]`` or ``[1, X, Y, Z]`` of real numbers, or is empty.
    """
    array = as_lazy(image) if is_lazy(image) else np.asarray(image)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1:
        raise ValueError(
            f"image must be 3-D [X, Y, Z] or 4-D [1, X, Y, Z]; got shape {tuple(array.shape)}"
        )
    if min(array.shape) == 0:
        raise ValueError(f"image must not be empty; got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"image must hold real numbers; got dtype {array.dtype}")
    return array


def spatial(image4d: Any) -> Any:
    """The ``[X, Y, Z]`` volume of an :func:`image_4d` result (a view; lazy stays lazy)."""
    return image4d.view(0) if isinstance(image4d, LazyVolume) else image4d[0]


def check_spacing(spacing: Any) -> list[float]:
    """Return the voxel spacing as 3 positive floats (default 1 mm)."""
    if spacing is None:
        return [1.0, 1.0, 1.0]
    values = [float(v) for v in spacing]
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must be 3 positive millimetre values (x, y, z); got {spacing!r}")
    return values


def vertex_pairs(vertices: Any) -> tuple[tuple[Any, ...], ...]:
    """Turn an ``(n, 2)`` array or a list of pairs into tuples (checked by :class:`Prompt`)."""
    return tuple(tuple(vertex) for vertex in vertices)
