"""Volumes that stay on disk: read region by region (Zarr, OME-Zarr, Dask, memory maps).

See :class:`LazyVolume` and :func:`read_ome_zarr`.
"""

from __future__ import annotations

from .lazy import ChunkCache, LazyVolume, as_lazy, is_lazy

__all__ = ["ChunkCache", "LazyVolume", "as_lazy", "is_lazy"]
