"""Volumes read region by region: Zarr arrays, Dask arrays, memory maps, anything sliceable.

A :class:`LazyVolume` looks like a read-only numpy array to the code that reads it (``shape``,
``dtype``, ``ndim``, basic slicing returns numpy), but holds no voxels: each read fetches only
the chunks it touches, through a bounded least-recently-used cache, so scrolling a viewer or
scanning a volume slab by slab decodes each chunk about once. A memory map (or an array already
in memory) is read directly: the operating system's page cache does the caching; its file's size
is checked before each read, so a file cut short is an error, not a crash. A chunk that cannot be
decoded is a :class:`ChunkError` naming the source and the chunk.

Axis order: nni_jupyter volumes are ``[X, Y, Z]``. Zarr and OME-Zarr store ``(z, y, x)``; pass
``order=(2, 1, 0)`` (our axis ``d`` is the source's axis ``order[d]``), and reads are transposed.
"""

from __future__ import annotations

import math
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Chunk cache size when none is given: enough for a slab of 128³ chunks across a large volume.
DEFAULT_CACHE_BYTES = 512 * 2**20
#: Block edge used for sources that do not say how they are chunked.
DEFAULT_BLOCK = 128


class ChunkCache:
    """A least-recently-used map of decoded chunks, bounded in bytes; safe across threads."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes; got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> np.ndarray | None:
        """The chunk stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Any, value: np.ndarray) -> None:
        """Store ``value``, dropping the least recently used chunks beyond the size bound."""
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.nbytes -= dropped.nbytes

    def clear(self) -> None:
        """Drop every chunk."""
        with self._lock:
            self._items.clear()
            self.nbytes = 0


@dataclass(frozen=True)
class CoarserLevel:
    """A coarser copy of a volume, such as an OME-Zarr pyramid level: its voxel ``(i, j, k)``
    stands for the volume's voxels ``[i f0, (i + 1) f0) x [j f1, ...) x [k f2, ...)``."""

    factors: tuple[int, int, int]
    volume: LazyVolume


class LazyVolume:
    """A read-only N-D array whose voxels stay in their source until a region is read.

    Parameters
    ----------
    source
        A Zarr array, a Dask array, a ``numpy.memmap`` (or ndarray), or any object with
        ``shape``, ``dtype`` and basic slicing that returns array data (h5py datasets, ...).
    order
        Our axis ``d`` is the source's axis ``order[d]`` (default: the source's order).
    cache
        The chunk cache to use (shared between volumes if you like); default a new one of
        ``cache_bytes``.
    cache_bytes
        Size bound of the default cache.
    coarser
        Coarser copies of the volume (finest first), which a viewer may show instead of
        decimating it; kept by views that keep the whole spatial extent.

    Reads take basic indices only: integers, slices with step 1, and ``...``, and return numpy;
    ``volume[None]`` is a view with a leading axis of length 1 (as the session's
    ``[1, X, Y, Z]`` input), and :meth:`view` makes lazy sub-volumes.
    """

    def __init__(
        self,
        source: Any,
        order: Sequence[int] | None = None,
        *,
        cache: ChunkCache | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        leading: int = 0,
        region: Sequence[tuple[int, int]] | None = None,
        coarser: Sequence[CoarserLevel] = (),
        closing: threading.Event | None = None,
    ):
        if isinstance(source, LazyVolume):
            raise TypeError("source is already a LazyVolume; use it directly")
        for needed in ("shape", "dtype", "__getitem__"):
            if not hasattr(source, needed):
                raise TypeError(
                    f"a lazy volume needs an array-like source with shape, dtype and slicing; "
                    f"{type(source).__name__} has no {needed}"
                )
        ndim = len(source.shape)
        order = tuple(range(ndim)) if order is None else tuple(int(a) for a in order)
        if sorted(order) != list(range(ndim)):
            raise ValueError(f"order must be a permutation of 0..{ndim - 1}; got {order}")
        self.source = source
        self.order = order
        self.leading = int(leading)
        full = [(0, int(source.shape[a])) for a in order]
        self.region = full if region is None else [(int(lo), int(hi)) for lo, hi in region]
        self.dtype = np.dtype(source.dtype)
        self.shape = (1,) * self.leading + tuple(hi - lo for lo, hi in self.region)
        self.ndim = len(self.shape)
        self.direct = isinstance(source, np.ndarray)  # memmaps: the page cache caches
        self.blocks = _source_blocks(source)
        self.cache = ChunkCache(cache_bytes) if cache is None else cache
        self.coarser = tuple(coarser)
        #: Set by :meth:`close`: every later read, of this volume or of views made from it,
        #: raises :class:`VolumeClosed` (a statistics pass on a thread stops at its next chunk).
        self.closing = threading.Event() if closing is None else closing

    @property
    def size(self) -> int:
        """Number of voxels."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the whole volume would take in memory."""
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """The source's chunk edge along each of our axes (its first chunk for irregular ones)."""
        edges = (int(self.blocks[a][1] - self.blocks[a][0]) for a in self.order)
        return (1,) * self.leading + tuple(edges)

    def __repr__(self) -> str:
        kind = type(self.source).__module__.split(".")[0] + "." + type(self.source).__name__
        return f"LazyVolume(shape={self.shape}, dtype={self.dtype}, chunks={self.chunks}, {kind})"

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self[...]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def view(self, key: Any) -> LazyVolume:
        """A lazy view of part of the volume: ``key`` takes slices (step 1), ``...``, integers
        on the leading length-1 axes (dropping them), and ``None`` (adding one in front)."""
        if key is None:
            return self._derive(self.leading + 1, self.region)
        ranges, dropped = _normalise(key, self.shape)
        if any(axis >= self.leading for axis in dropped):
            raise IndexError("a lazy view keeps the spatial axes; index them with slices")
        own = ranges[self.leading :]
        region = [
            (lo + start, hi + start) for (lo, hi), (start, _) in zip(own, self.region, strict=True)
        ]
        return self._derive(self.leading - len(dropped), region)

    def detached(self) -> LazyVolume:
        """The same voxels as a volume of its own: closing it (or this one) leaves the other
        readable. An annotation works on a detached view, so closing it never stops the user's."""
        return self._derive(self.leading, self.region, threading.Event())

    def close(self) -> None:
        """Refuse every later read of this volume and of the views made from it."""
        self.closing.set()

    def _derive(
        self, leading: int, region: list[tuple[int, int]], closing: threading.Event | None = None
    ) -> LazyVolume:
        coarser = self.coarser if list(region) == list(self.region) else ()
        return LazyVolume(
            self.source,
            self.order,
            cache=self.cache,
            leading=leading,
            region=region,
            coarser=coarser,
            closing=self.closing if closing is None else closing,
        )

    def __getitem__(self, key: Any) -> Any:
        if key is None:
            return self.view(None)
        ranges, dropped = _normalise(key, self.shape)
        own = [
            (lo + start, hi + start)
            for (lo, hi), (start, _) in zip(ranges[self.leading :], self.region, strict=True)
        ]
        source_ranges = [own[self.order.index(a)] for a in range(len(self.order))]
        data = self._read(source_ranges)
        if self.order != tuple(range(len(self.order))):
            data = data.transpose(self.order)
        kept = [hi - lo for d, (lo, hi) in enumerate(ranges) if d not in dropped]
        return data.reshape(kept)

    def _read(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """The source's voxels over ``ranges`` (in the source's axis order), as numpy."""
        if self.closing.is_set():
            raise VolumeClosed(f"{where(self.source)} was closed with its annotation")
        if self.direct or any(hi <= lo for lo, hi in ranges):
            check_mapped(self.source)
            return np.array(self.source[tuple(slice(lo, hi) for lo, hi in ranges)])
        out = np.empty([hi - lo for lo, hi in ranges], dtype=self.dtype)
        spans = [
            _blocks_overlapping(edges, lo, hi)
            for edges, (lo, hi) in zip(self.blocks, ranges, strict=True)
        ]
        for index in np.ndindex(*[len(s) for s in spans]):
            block = [spans[a][i] for a, i in enumerate(index)]
            chunk = self._chunk(tuple(b for b, _, _ in block), [(lo, hi) for _, lo, hi in block])
            inside = tuple(
                slice(max(lo, want_lo) - lo, min(hi, want_hi) - lo)
                for (_, lo, hi), (want_lo, want_hi) in zip(block, ranges, strict=True)
            )
            target = tuple(
                slice(max(lo, want_lo) - want_lo, min(hi, want_hi) - want_lo)
                for (_, lo, hi), (want_lo, want_hi) in zip(block, ranges, strict=True)
            )
            out[target] = chunk[inside]
        return out

    def _chunk(self, index: tuple[int, ...], ranges: list[tuple[int, int]]) -> np.ndarray:
        if self.closing.is_set():  # checked per chunk: one read may span thousands
            raise VolumeClosed(f"{where(self.source)} was closed with its annotation")
        key = (id(self.source), index)
        chunk = self.cache.get(key)
        if chunk is None:
            try:
                chunk = _materialise(self.source[tuple(slice(lo, hi) for lo, hi in ranges)])
            except (MemoryError, ChunkError, VolumeClosed):
                raise
            except Exception as error:  # a codec's own error says neither where nor which
                box = ", ".join(f"{lo}:{hi}" for lo, hi in ranges)
                raise ChunkError(
                    f"cannot read chunk {index} of {where(self.source)} (its voxels [{box}] in "
                    f"the source's axis order): {type(error).__name__}: {error}. The chunk's "
                    "file is damaged or unreadable; restore it from a copy"
                ) from error
            self.cache.put(key, chunk)
        return chunk


class VolumeClosed(RuntimeError):
    """A read of a volume after :meth:`LazyVolume.close` (its annotation was closed)."""


class ChunkError(OSError):
    """A chunk of a volume's source could not be read or decoded (the message says which)."""


def where(source: Any) -> str:
    """Where a source's data lie, for messages: a Zarr array's store path, a memory map's file,
    else the source's type."""
    inner = getattr(source, "array", source)  # a view that picks a channel or time point
    for attribute in ("store_path", "filename", "name"):
        value = getattr(inner, attribute, None)
        if value:
            return str(value)
    return type(inner).__name__


def check_mapped(source: Any) -> None:
    """Raise :class:`ChunkError` when ``source`` is a memory map whose file is now shorter than
    the map: reading past a mapped file's end kills the process (SIGBUS), so it is checked
    before every read."""
    mapping = getattr(source, "_mmap", None)
    filename = getattr(source, "filename", None)
    if not isinstance(source, np.memmap) or mapping is None or filename is None:
        return
    start = source.offset - source.offset % mmap.ALLOCATIONGRANULARITY
    needed = start + len(mapping)
    try:
        size = os.stat(filename).st_size
    except OSError as error:
        size, why = 0, f" ({error})"
    else:
        why = ""
    if size < needed:
        raise ChunkError(
            f"the file under this memory-mapped image, {filename}, now holds {size:,} bytes{why}; "
            f"the map needs {needed:,}: it was cut short or replaced while open. Nothing was read "
            "(reading would crash the kernel); masks made so far are kept. Restore the file, or "
            "open the image again"
        )


def is_lazy(value: Any) -> bool:
    """True for sources nni_jupyter reads region by region instead of loading whole: lazy
    volumes, memory maps, Zarr and Dask arrays, h5py datasets."""
    if isinstance(value, LazyVolume | np.memmap):
        return True
    module = type(value).__module__
    return module.startswith(("zarr", "dask", "h5py"))


def as_lazy(value: Any) -> LazyVolume:
    """``value`` as a :class:`LazyVolume` (itself when it is one already)."""
    return value if isinstance(value, LazyVolume) else LazyVolume(value)


def _source_blocks(source: Any) -> list[list[int]]:
    """Per source axis, the chunk boundaries ``[0, c, 2c, ..., n]``."""
    shape = [int(n) for n in source.shape]
    chunks = getattr(source, "chunks", None)
    if (
        chunks is not None
        and len(chunks) == len(shape)
        and all(isinstance(c, tuple) for c in chunks)
    ):  # Dask: explicit, possibly irregular chunk sizes per axis
        return [[0, *np.cumsum(c).tolist()] for c in chunks]
    if chunks is None or len(chunks) != len(shape):
        chunks = [DEFAULT_BLOCK] * len(shape)
    return [
        [*range(0, n, max(1, int(c))), n] if n else [0, 0]
        for n, c in zip(shape, chunks, strict=True)
    ]


def _blocks_overlapping(edges: list[int], lo: int, hi: int) -> list[tuple[int, int, int]]:
    """The chunks ``(index, start, stop)`` along one axis that overlap ``[lo, hi)``."""
    first = int(np.searchsorted(edges, lo, side="right")) - 1
    found = []
    for index in range(max(first, 0), len(edges) - 1):
        start, stop = edges[index], edges[index + 1]
        if start >= hi:
            break
        found.append((index, start, stop))
    return found


def _materialise(data: Any) -> np.ndarray:
    compute = getattr(data, "compute", None)  # Dask
    return np.asarray(compute() if compute is not None else data)


def _normalise(key: Any, shape: tuple[int, ...]) -> tuple[list[tuple[int, int]], set[int]]:
    """``key`` as one ``[lo, hi)`` per axis, plus the axes an integer index removes."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = len(shape) - (len(key) - 1)
        key = key[:at] + (slice(None),) * fill + key[at + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices for a {len(shape)}-D volume: {len(key)}")
    key = key + (slice(None),) * (len(shape) - len(key))
    ranges, dropped = [], set()
    for axis, (k, n) in enumerate(zip(key, shape, strict=True)):
        if isinstance(k, int | np.integer):
            i = int(k) + n if k < 0 else int(k)
            if not 0 <= i < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {axis} of size {n}")
            ranges.append((i, i + 1))
            dropped.add(axis)
        elif isinstance(k, slice):
            lo, hi, step = k.indices(n)
            if step != 1:
                raise IndexError(f"a lazy volume reads contiguous regions; got step {step}")
            ranges.append((lo, max(lo, hi)))
        else:
            raise IndexError(
                f"a lazy volume takes integers, slices and ...; got {type(k).__name__}"
            )
    return ranges, dropped
