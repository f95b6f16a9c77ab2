"""Boxes for torch tensors: the bbox of a tensor's nonzero voxels and pastes through a bbox.

Box arithmetic itself is :mod:`nni_jupyter.core.regions` (numpy only); its names are re-exported
here for the inference modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any

import numpy as np
import torch

from ..core.regions import (
    Bbox,
    bbox_of_projections,
    bbox_shape,
    centered_bbox,
    clip_bbox,
    from_local,
    shift,
    to_local,
    to_slices,
    union_bboxes,
)
from ..core.regions import nonzero_bbox as numpy_nonzero_bbox

__all__ = [
    "Bbox",
    "bbox_shape",
    "centered_bbox",
    "clip_bbox",
    "from_local",
    "nonzero_bbox",
    "paste_clipped",
    "shift",
    "to_local",
    "to_slices",
    "union_bboxes",
]


def nonzero_bbox(mask: np.ndarray | torch.Tensor | Any) -> Bbox | None:
    """Return the bbox of the nonzero voxels of an N-D array or tensor, or None when all zero
    (a tensor by per-axis projections on its device; anything else by
    :func:`nni_jupyter.core.regions.nonzero_bbox`)."""
    if not isinstance(mask, torch.Tensor):
        return numpy_nonzero_bbox(mask)
    occupied = mask if mask.dtype == torch.bool else mask != 0
    return bbox_of_projections([p.cpu().numpy() for p in _torch_projections(occupied)])


def _torch_projections(occupied: torch.Tensor) -> list[torch.Tensor]:
    """Per axis, which indices hold a True voxel (one pass over the tensor, then its planes)."""
    if occupied.ndim == 1:
        return [occupied]
    rows = occupied.reshape(occupied.shape[0], -1).any(dim=1)
    return [rows, *_torch_projections(occupied.any(dim=0))]


def paste_clipped(
    target: torch.Tensor, source: torch.Tensor, bbox: Sequence[Sequence[int]]
) -> None:
    """Write ``source`` (of the size of ``bbox``) into the part of ``bbox`` inside ``target``."""
    inside = clip_bbox(bbox, target.shape[-3:])
    if inside is None:
        return
    local = to_local(inside, bbox)
    into: tuple[EllipsisType | slice, ...] = (..., *to_slices(inside))
    out_of: tuple[EllipsisType | slice, ...] = (..., *to_slices(local))
    target[into] = source[out_of].to(target.dtype)
