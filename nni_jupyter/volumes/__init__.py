"""Volumes that stay on disk or stay sparse: read region by region (Zarr, OME-Zarr, Dask, memory
maps), and label maps stored only where written.

See :class:`LazyVolume`, :class:`SparseVolume` and :func:`read_ome_zarr`.
"""

from __future__ import annotations

from .lazy import ChunkCache, LazyVolume, as_lazy, is_lazy
from .sparse import SparseVolume

__all__ = ["ChunkCache", "LazyVolume", "SparseVolume", "as_lazy", "is_lazy"]
