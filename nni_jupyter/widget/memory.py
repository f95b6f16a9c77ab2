"""Estimate the memory a Segmenter needs for an image, and refuse one that cannot fit.

Per voxel (steady state, nni_jupyter's session and the widget together):

- the session's copy of the image in its own dtype (float64 kept as float32): ``itemsize`` bytes;
- the session's target buffer (uint8) and the widget's owner map (uint8): 2 bytes (the owner map
  becomes uint16, 1 byte more, once an object id above 255 is created: not counted, as few
  images get that many objects);
- transient copies while reading results (``mask``, ``labels`` as uint16): 2 bytes;
- interaction channels: float16 tiles allocated only where prompts and predictions wrote
  (0 bytes for untouched regions; the reference keeps 7 dense float16 channels, 14 bytes).

The reference session holds float32 image + 7 float16 channels = 18 bytes per voxel plus its
target buffer. On top come the network weights and the working set of a few patches.

Measured (``python bench/reliability_big_volume.py``, 2 CPU threads): a 512x512x1000 int16 CT
(0.49 GiB) raised the process's peak RSS by 1.1 GiB through ``Segmenter(...)`` and a first point,
below the 6 bytes per voxel this estimate counts. Notebook 04 points here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..system_memory import BUDGET_ENV, available_bytes, gib, memory_limit, parse_bytes

#: Per voxel besides the image copy: target buffer + owner map + transient result copies.
WIDGET_BYTES_PER_VOXEL = 4
#: The network's working set (activations, a few patches of inputs) plus the interpreter.
FIXED_OVERHEAD_BYTES = 1 << 30
REFERENCE_BYTES_PER_VOXEL = 4 + 7 * 2 + 1


def bytes_per_voxel(dtype: Any, lazy: bool = False) -> int:
    """Steady-state bytes per voxel for an image of ``dtype`` (see the module notes); a lazy
    image (:class:`~nni_jupyter.volumes.LazyVolume`) stays on disk and costs none."""
    if lazy:
        return WIDGET_BYTES_PER_VOXEL
    itemsize = 4 if np.dtype(dtype) == np.float64 else np.dtype(dtype).itemsize
    return itemsize + WIDGET_BYTES_PER_VOXEL


def estimate_bytes(
    shape: tuple[int, ...], dtype: Any, network: Any = None, cache_bytes: int | None = None
) -> int:
    """Estimated peak bytes a Segmenter needs for an image of ``shape`` and ``dtype``;
    ``cache_bytes`` is the chunk cache bound of a lazy image (None: the image is in memory)."""
    voxels = int(np.prod([int(s) for s in shape], dtype=np.int64))
    weights = 0
    if network is not None and hasattr(network, "parameters"):
        weights = sum(p.numel() * p.element_size() for p in network.parameters())
    lazy = cache_bytes is not None
    per_voxel = voxels * bytes_per_voxel(dtype, lazy)
    return per_voxel + weights + FIXED_OVERHEAD_BYTES + (cache_bytes or 0)


def check_fits(
    shape: tuple[int, ...],
    dtype: Any,
    network: Any = None,
    budget: Any = None,
    cache_bytes: int | None = None,
) -> int:
    """Raise MemoryError when the estimate exceeds ``budget``; return the estimate in bytes.

    ``budget`` defaults to ``$NNI_JUPYTER_MEMORY_BUDGET``, else the memory available now;
    ``cache_bytes`` as for :func:`estimate_bytes`.
    """
    needed = estimate_bytes(shape, dtype, network, cache_bytes)
    limit, source = memory_limit(budget)
    if limit is not None and needed > limit:
        per_voxel = bytes_per_voxel(dtype, cache_bytes is not None)
        raise MemoryError(
            f"an image of shape {tuple(shape)} ({np.dtype(dtype)}) needs about {gib(needed)} "
            f"({per_voxel} B/voxel + model and working memory) but {source} is "
            f"{gib(limit)}. Crop the image to the region of interest, free memory, or raise "
            f"the budget (memory_budget=... or ${BUDGET_ENV})."
        )
    return needed


__all__ = ["BUDGET_ENV", "available_bytes", "check_fits", "estimate_bytes", "parse_bytes"]
