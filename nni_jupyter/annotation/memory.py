"""Estimate the memory a Segmenter needs for an image, and refuse one that cannot fit.

An image in memory, per voxel (steady state, nni_jupyter's session and the widget together):

- the session's copy of the image in its own dtype (float64 kept as float32): ``itemsize`` bytes;
- the session's target buffer (uint8) and the widget's owner map (uint8): 2 bytes (the owner map
  becomes uint16, 1 byte more, once an object id above 255 is created: not counted, as few
  images get that many objects);
- transient copies while reading results (``mask``, ``labels`` as uint16): 2 bytes;
- interaction channels: float16 tiles allocated only where prompts and predictions wrote
  (0 bytes for untouched regions; the reference keeps 7 dense float16 channels, 14 bytes).

A lazy image (:class:`~nni_jupyter.volumes.LazyVolume`: Zarr, OME-Zarr, Dask, memory map) stays
on disk and its target buffer and owner map are :class:`~nni_jupyter.volumes.SparseVolume`: no
cost per voxel of the image. It costs the chunk cache's bound, plus the labels where objects
are: the same 4 bytes per voxel (target, owner map, snapshots read by ``labels``), but only over
the chunks objects touch. How much that is depends on the objects, not the image, so the estimate
sets aside room for :data:`LABELLED_VOXELS` voxels of labelled chunks (a 512³ region).

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
#: Voxels of labelled chunks a lazy image's estimate sets aside room for (a 512³ region).
LABELLED_VOXELS = 512**3
#: The network's working set (activations, a few patches of inputs) plus the interpreter.
FIXED_OVERHEAD_BYTES = 1 << 30
REFERENCE_BYTES_PER_VOXEL = 4 + 7 * 2 + 1


def bytes_per_voxel(dtype: Any, lazy: bool = False) -> int:
    """Steady-state bytes per voxel for an image of ``dtype`` (see the module notes); a lazy
    image stays on disk, and its labels are counted per labelled voxel (:func:`labels_bytes`)."""
    if lazy:
        return 0
    itemsize = 4 if np.dtype(dtype) == np.float64 else np.dtype(dtype).itemsize
    return itemsize + WIDGET_BYTES_PER_VOXEL


def labels_bytes(voxels: int, lazy: bool) -> int:
    """Bytes set aside for the target buffer, owner map and result copies: every voxel of an
    image in memory, at most :data:`LABELLED_VOXELS` of a lazy one (sparse storage)."""
    return WIDGET_BYTES_PER_VOXEL * (min(voxels, LABELLED_VOXELS) if lazy else voxels)


def _parts(
    shape: tuple[int, ...], dtype: Any, network: Any, cache_bytes: int | None
) -> dict[str, int]:
    """The estimate's parts in bytes: image, labels, chunk cache, model and working memory."""
    voxels = int(np.prod([int(s) for s in shape], dtype=np.int64))
    lazy = cache_bytes is not None
    weights = 0
    if network is not None and hasattr(network, "parameters"):
        weights = sum(p.numel() * p.element_size() for p in network.parameters())
    image = voxels * (bytes_per_voxel(dtype) - WIDGET_BYTES_PER_VOXEL) if not lazy else 0
    return {
        "image": image,
        "labels": labels_bytes(voxels, lazy),
        "chunk cache": cache_bytes or 0,
        "model and working memory": weights + FIXED_OVERHEAD_BYTES,
    }


def estimate_bytes(
    shape: tuple[int, ...], dtype: Any, network: Any = None, cache_bytes: int | None = None
) -> int:
    """Estimated peak bytes a Segmenter needs for an image of ``shape`` and ``dtype``;
    ``cache_bytes`` is the chunk cache bound of a lazy image (None: the image is in memory)."""
    return sum(_parts(shape, dtype, network, cache_bytes).values())


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
    parts = _parts(shape, dtype, network, cache_bytes)
    needed = sum(parts.values())
    limit, source = memory_limit(budget)
    if limit is not None and needed > limit:
        lazy = cache_bytes is not None
        itemized = ", ".join(f"{name} {gib(size)}" for name, size in parts.items() if size)
        kind = "a lazy image" if lazy else "an image"
        per_voxel = "" if lazy else f"{bytes_per_voxel(dtype)} B/voxel: "
        advice = (
            "Lower the chunk cache (LazyVolume(..., cache_bytes=...)), free memory"
            if lazy
            else "Open it lazily (Zarr, OME-Zarr, a memory map), crop it to the region of "
            "interest, free memory"
        )
        raise MemoryError(
            f"{kind} of shape {tuple(shape)} ({np.dtype(dtype)}) needs about {gib(needed)} "
            f"({per_voxel}{itemized}) but {source} is {gib(limit)}. {advice}, or raise the "
            f"budget (memory_budget=... or ${BUDGET_ENV})."
        )
    return needed


__all__ = [
    "BUDGET_ENV",
    "available_bytes",
    "check_fits",
    "estimate_bytes",
    "labels_bytes",
    "parse_bytes",
]
