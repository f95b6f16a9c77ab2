"""Half-open bounding boxes ``[[lo, hi], ...]`` in voxel coordinates, and pastes through them.

Every bbox in ``nni_jupyter.inference`` uses the array's axis order and half-open intervals. A bbox
may extend past the image; :func:`clip_bbox` gives the part inside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Bbox = list[list[int]]


def clip_bbox(bbox: Sequence[Sequence[int]], shape: Sequence[int]) -> Bbox | None:
    """Return ``bbox`` clipped to ``[0, shape)`` per axis, or None when nothing is left."""
    clipped = [
        [max(0, int(lo)), min(int(hi), int(size))]
        for (lo, hi), size in zip(bbox, shape, strict=True)
    ]
    if any(hi <= lo for lo, hi in clipped):
        return None
    return clipped


def bbox_size(bbox: Sequence[Sequence[int]]) -> list[int]:
    """Return the extent of ``bbox`` along each axis."""
    return [int(hi - lo) for lo, hi in bbox]


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


def shift(bbox: Sequence[Sequence[int]], offset: Sequence[int]) -> Bbox:
    """Return ``bbox`` moved by ``offset`` voxels per axis."""
    return [[lo + o, hi + o] for (lo, hi), o in zip(bbox, offset, strict=True)]


def to_slices(bbox: Sequence[Sequence[int]]) -> tuple[slice, ...]:
    """Return the slices that select ``bbox`` (which must lie inside the array)."""
    return tuple(slice(int(lo), int(hi)) for lo, hi in bbox)


def centered_bbox(center: Sequence[int], size: Sequence[int]) -> Bbox:
    """Return the bbox of ``size`` around ``center``; odd leftovers go to the upper side."""
    return [[c - s // 2, c + s // 2 + s % 2] for c, s in zip(center, size, strict=True)]


def nonzero_bbox(mask: torch.Tensor) -> Bbox | None:
    """Return the bbox of the nonzero voxels of a 3-D tensor, or None when it is all zero.

    Uses per-axis projections instead of ``torch.nonzero``, so no index list is materialised.
    """
    occupied = mask if mask.dtype == torch.bool else mask != 0
    plane = occupied.any(dim=0)
    projections = (occupied.flatten(1).any(dim=1), plane.any(dim=1), plane.any(dim=0))
    bbox = []
    for projection in projections:
        hits = torch.nonzero(projection).flatten()
        if hits.numel() == 0:
            return None
        bbox.append([int(hits[0]), int(hits[-1]) + 1])
    return bbox


def paste_clipped(
    target: torch.Tensor, source: torch.Tensor, bbox: Sequence[Sequence[int]]
) -> None:
    """Write ``source`` (of the size of ``bbox``) into the part of ``bbox`` inside ``target``."""
    inside = clip_bbox(bbox, target.shape[-3:])
    if inside is None:
        return
    local = to_local(inside, bbox)
    target[(..., *to_slices(inside))] = source[(..., *to_slices(local))].to(target.dtype)
