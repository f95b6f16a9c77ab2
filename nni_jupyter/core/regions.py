"""Half-open bounding boxes ``[[lo, hi], ...]`` in voxel coordinates: the one module for box
arithmetic in nni_jupyter (annotation, inference, widget, evaluation and trainer), numpy only.

Every bbox uses the array's axis order and half-open intervals. A bbox may extend past the image;
:func:`clip_bbox` gives the part inside it. :mod:`nni_jupyter.inference.regions` adds what torch
tensors need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Bbox = list[list[int]]
#: numpy arrays are scanned this many rows at a time, so a memmap is never loaded whole.
_SLAB_ROWS = 16


def clip_bbox(bbox: Sequence[Sequence[int]], shape: Sequence[int]) -> Bbox | None:
    """Return ``bbox`` clipped to ``[0, shape)`` per axis, or None when nothing is left."""
    clipped = [
        [max(0, int(lo)), min(int(hi), int(size))]
        for (lo, hi), size in zip(bbox, shape, strict=True)
    ]
    if any(hi <= lo for lo, hi in clipped):
        return None
    return clipped


def bbox_shape(bbox: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Return the shape of the array ``bbox`` selects (its extent along each axis)."""
    return tuple(int(hi) - int(lo) for lo, hi in bbox)


def union_bboxes(bboxes: Sequence[Sequence[Sequence[int]] | None]) -> Bbox | None:
    """Return the smallest bbox holding every given bbox (None entries are skipped)."""
    valid = [b for b in bboxes if b is not None]
    if not valid:
        return None
    return [
        [min(b[axis][0] for b in valid), max(b[axis][1] for b in valid)]
        for axis in range(len(valid[0]))
    ]


def to_local(bbox: Sequence[Sequence[int]], frame: Sequence[Sequence[int]]) -> Bbox:
    """Express ``bbox`` in the coordinates of ``frame`` (whose lower corner becomes the origin)."""
    return [[lo - f[0], hi - f[0]] for (lo, hi), f in zip(bbox, frame, strict=True)]


def from_local(bbox: Sequence[Sequence[int]], frame: Sequence[Sequence[int]]) -> Bbox:
    """Express ``bbox``, given relative to ``frame``'s lower corner, in ``frame``'s coordinates."""
    return [[lo + f[0], hi + f[0]] for (lo, hi), f in zip(bbox, frame, strict=True)]


def shift(bbox: Sequence[Sequence[int]], offset: Sequence[int]) -> Bbox:
    """Return ``bbox`` moved by ``offset`` voxels per axis."""
    return [[lo + o, hi + o] for (lo, hi), o in zip(bbox, offset, strict=True)]


def to_slices(bbox: Sequence[Sequence[int]]) -> tuple[slice, ...]:
    """Return the slices that select ``bbox`` (which must lie inside the array)."""
    return tuple(slice(int(lo), int(hi)) for lo, hi in bbox)


def centered_bbox(center: Sequence[int], size: Sequence[int]) -> Bbox:
    """Return the bbox of ``size`` around ``center``; odd leftovers go to the upper side."""
    return [[c - s // 2, c + s // 2 + s % 2] for c, s in zip(center, size, strict=True)]


def nonzero_bbox(mask: Any) -> Bbox | None:
    """Return the bbox of the nonzero voxels of an N-D array (numpy, a memory map or anything
    sliceable along axis 0 into numpy, such as a lazy volume), or None when all are zero.

    Uses per-axis projections instead of an index list, scanned in slabs of rows, so no
    full-size temporary is made.
    """
    return bbox_of_projections(_numpy_projections(mask))


def bbox_of_projections(projections: Sequence[np.ndarray]) -> Bbox | None:
    """The bbox spanned by per-axis occupancy (True where a slab holds a voxel), or None."""
    bbox = []
    for projection in projections:
        hits = np.flatnonzero(projection)
        if hits.size == 0:
            return None
        bbox.append([int(hits[0]), int(hits[-1]) + 1])
    return bbox


def _numpy_projections(mask: Any) -> list[np.ndarray]:
    """Per axis, which indices hold a nonzero voxel, computed slab by slab along axis 0."""
    if not hasattr(mask, "ndim"):
        mask = np.asarray(mask)
    if mask.ndim == 1:
        return [np.asarray(mask[:]) != 0]
    rows = np.zeros(mask.shape[0], dtype=bool)
    rest = [np.zeros(n, dtype=bool) for n in mask.shape[1:]]
    for start in range(0, mask.shape[0], _SLAB_ROWS):
        occupied = mask[start : start + _SLAB_ROWS] != 0
        rows[start : start + _SLAB_ROWS] = occupied.any(axis=tuple(range(1, mask.ndim)))
        for axis, seen in enumerate(rest, start=1):
            seen |= occupied.any(axis=tuple(a for a in range(mask.ndim) if a != axis))
    return [rows, *rest]
