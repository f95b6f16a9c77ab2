"""A sparse chunked volume: label maps and target buffers that cost memory only where written.

A :class:`SparseVolume` has a ``shape``, a ``dtype`` and a chunk shape; a chunk is held only once
something nonzero was written into it (a chunk written back to all zeros is dropped). Reads and
writes take basic indices (integers, slices with step 1, ``...``) with numpy's semantics and
return or accept dense numpy arrays for the box. Whole-volume questions (nonzero bbox, voxel
counts per value, value maps, dtype widening) are answered chunk by chunk, so their cost follows
the stored chunks, never the volume.

Stored chunks are never changed in place: a write replaces the chunks it touches with new arrays.
That makes :meth:`SparseVolume.copy` cheap (the copy shares the chunks) and a read-only copy a
true snapshot.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .lazy import _normalise

#: Chunk edge when none is given: 64³ uint8 is 256 KiB.
DEFAULT_CHUNK = 64

Box = list[list[int]]


class SparseVolume:
    """An N-D array of zeros except in the chunks that were written.

    Parameters
    ----------
    shape
        The volume's shape.
    dtype
        Its dtype (numeric).
    chunks
        Chunk shape (default 64 along every axis, capped by the shape).
    read_only
        Refuse writes (results handed to users are read-only snapshots).
    """

    def __init__(
        self,
        shape: Sequence[int],
        dtype: Any = np.uint8,
        chunks: Sequence[int] | None = None,
        *,
        read_only: bool = False,
    ):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "biuf":
            raise ValueError(f"a sparse volume holds numbers; got dtype {self.dtype}")
        if chunks is None:
            chunks = [min(DEFAULT_CHUNK, max(s, 1)) for s in self.shape]
        self.chunks = tuple(int(c) for c in chunks)
        if len(self.chunks) != len(self.shape) or min(self.chunks, default=1) < 1:
            raise ValueError(
                f"chunks must be one positive edge per axis of shape {self.shape}; "
                f"got {tuple(chunks)}"
            )
        self.read_only = bool(read_only)
        self._chunks: dict[tuple[int, ...], np.ndarray] = {}

    # ---- array-like ---------------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of voxels."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the volume would take dense."""
        return self.size * self.dtype.itemsize

    @property
    def stored_nbytes(self) -> int:
        """Bytes held by the stored chunks."""
        return sum(chunk.nbytes for chunk in self._chunks.values())

    @property
    def stored_chunks(self) -> int:
        """Number of chunks held."""
        return len(self._chunks)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        mode = ", read-only" if self.read_only else ""
        return (
            f"SparseVolume(shape={self.shape}, dtype={self.dtype}, chunks={self.chunks}, "
            f"{len(self._chunks)} chunks stored{mode})"
        )

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self.read([[0, s] for s in self.shape])
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        ranges, dropped = _normalise(key, self.shape)
        box = [[lo, hi] for lo, hi in ranges]
        kept = [hi - lo for axis, (lo, hi) in enumerate(ranges) if axis not in dropped]
        return self.read(box).reshape(kept)

    def __setitem__(self, key: Any, value: Any) -> None:
        ranges, dropped = _normalise(key, self.shape)
        box = [[lo, hi] for lo, hi in ranges]
        kept = [hi - lo for axis, (lo, hi) in enumerate(ranges) if axis not in dropped]
        values = np.broadcast_to(np.asarray(value), kept).reshape([hi - lo for lo, hi in box])
        self.write(box, values)

    # ---- boxes --------------------------------------------------------------------------------

    def read(self, box: Sequence[Sequence[int]]) -> np.ndarray:
        """A new dense array of the voxels in the half-open ``box`` (inside the volume)."""
        out = np.zeros([hi - lo for lo, hi in box], dtype=self.dtype)
        for key, inside, part in self._overlaps(box):
            chunk = self._chunks.get(key)
            if chunk is not None:
                out[_local(part, box)] = chunk[inside]
        return out

    def write(self, box: Sequence[Sequence[int]], values: np.ndarray) -> None:
        """Assign ``values`` (the shape of ``box``; cast as numpy casts) to the voxels in it."""
        if self.read_only:
            raise ValueError("this sparse volume is read-only (a snapshot); copy() it to change it")
        values = np.asarray(values)
        shape = tuple(hi - lo for lo, hi in box)
        if values.shape != shape:
            raise ValueError(f"values of shape {values.shape} do not fit the box {list(box)}")
        for key, inside, part in self._overlaps(box):
            source = values[_local(part, box)]
            old = self._chunks.get(key)
            if old is None and not source.any():
                continue
            shape_of_chunk = self._chunk_shape(key)
            whole = all(s.stop - s.start == n for s, n in zip(inside, shape_of_chunk, strict=True))
            if whole:
                new = source.astype(self.dtype, copy=True)
            else:
                new = np.zeros(self._chunk_shape(key), self.dtype) if old is None else old.copy()
                new[inside] = source
            self._store(key, new)

    def clear(self) -> None:
        """Zero every voxel (drops every chunk)."""
        if self.read_only:
            raise ValueError("this sparse volume is read-only (a snapshot); copy() it to change it")
        self._chunks.clear()

    # ---- chunk by chunk -----------------------------------------------------------------------

    def chunk_box(self, key: Sequence[int]) -> Box:
        """The half-open box of the chunk with index ``key``."""
        edges = zip(key, self.chunks, self.shape, strict=True)
        return [[k * c, min((k + 1) * c, s)] for k, c, s in edges]

    def iter_chunks(self) -> Iterator[tuple[Box, np.ndarray]]:
        """Yield ``(box, values)`` for every stored chunk (in index order; values read-only)."""
        for key in sorted(self._chunks):
            yield self.chunk_box(key), self._chunks[key]

    def any(self) -> bool:
        """Whether any voxel is nonzero."""
        return bool(self._chunks)

    def nonzero_bbox(self, value: int | None = None) -> Box | None:
        """The bbox of the nonzero voxels (or of those equal to ``value``), or None."""
        lows = list(self.shape)
        highs = [0] * self.ndim
        found = False
        for box, chunk in self.iter_chunks():
            hit = chunk != 0 if value is None else chunk == value
            if not hit.any():
                continue
            found = True
            for axis in range(self.ndim):
                others = tuple(a for a in range(self.ndim) if a != axis)
                indices = np.flatnonzero(hit.any(axis=others))
                lows[axis] = min(lows[axis], box[axis][0] + int(indices[0]))
                highs[axis] = max(highs[axis], box[axis][0] + int(indices[-1]) + 1)
        return [[lo, hi] for lo, hi in zip(lows, highs, strict=True)] if found else None

    def counts(self) -> dict[int, int]:
        """Voxels per value, zero included, for integer volumes (values with no voxel left out)."""
        if self.dtype.kind not in "biu":
            raise ValueError(f"counts per value need an integer volume; this one is {self.dtype}")
        totals: dict[int, int] = {}
        for _, chunk in self.iter_chunks():
            values, numbers = np.unique(chunk, return_counts=True)
            for value, number in zip(values.tolist(), numbers.tolist(), strict=True):
                totals[value] = totals.get(value, 0) + number
        totals[0] = self.size - sum(n for v, n in totals.items() if v != 0)
        return {v: n for v, n in sorted(totals.items()) if n}

    def map_chunks(
        self, function: Callable[[np.ndarray], np.ndarray], dtype: Any, *, read_only: bool = False
    ) -> SparseVolume:
        """A new volume of ``dtype`` holding ``function(chunk)`` per stored chunk.

        ``function`` must map 0 to 0 (chunks not stored stay zero) and keep the chunk's shape.
        """
        out = SparseVolume(self.shape, dtype, self.chunks)
        for key, chunk in self._chunks.items():
            mapped = np.asarray(function(chunk)).astype(out.dtype, copy=False)
            if mapped.shape != chunk.shape:
                raise ValueError(f"map_chunks: function changed a chunk's shape to {mapped.shape}")
            out._store(key, mapped)
        out.read_only = read_only
        return out

    def astype(self, dtype: Any, *, read_only: bool = False) -> SparseVolume:
        """A copy cast to ``dtype`` (widening uint8 to uint16 keeps every value)."""
        if np.dtype(dtype) == self.dtype:
            return self.copy(read_only=read_only)
        return self.map_chunks(lambda chunk: chunk, dtype, read_only=read_only)

    def copy(self, *, read_only: bool = False) -> SparseVolume:
        """A copy (cheap: chunks are shared, as neither side changes a chunk in place)."""
        out = SparseVolume(self.shape, self.dtype, self.chunks, read_only=read_only)
        out._chunks = dict(self._chunks)
        return out

    @classmethod
    def from_array(cls, array: Any, chunks: Sequence[int] | None = None) -> SparseVolume:
        """A sparse copy of a dense array (read slab by slab of chunks when it is lazy)."""
        out = cls(array.shape, array.dtype, chunks)
        counts = [_ceil(s, c) for s, c in zip(out.shape, out.chunks, strict=True)]
        for key in itertools.product(*[range(n) for n in counts]):
            box = out.chunk_box(key)
            values = np.asarray(array[tuple(slice(lo, hi) for lo, hi in box)])
            if values.any():
                out._store(key, values.astype(out.dtype, copy=True))
        return out

    # ---- internals ----------------------------------------------------------------------------

    def _store(self, key: tuple[int, ...], chunk: np.ndarray) -> None:
        if not chunk.any():
            self._chunks.pop(key, None)
            return
        chunk.flags.writeable = False  # shared with copies: replaced, never changed in place
        self._chunks[key] = chunk

    def _chunk_shape(self, key: Sequence[int]) -> tuple[int, ...]:
        return tuple(hi - lo for lo, hi in self.chunk_box(key))

    def _overlaps(
        self, box: Sequence[Sequence[int]]
    ) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...], Box]]:
        """Per chunk meeting ``box``: its index, the slices inside it, and the part of the box."""
        if len(box) != self.ndim or any(
            not 0 <= lo <= hi <= s for (lo, hi), s in zip(box, self.shape, strict=True)
        ):
            raise IndexError(f"box {list(box)} does not lie inside the volume of {self.shape}")
        if any(hi <= lo for lo, hi in box):
            return
        edges = zip(box, self.chunks, strict=True)
        spans = [range(lo // c, (hi - 1) // c + 1) for (lo, hi), c in edges]
        for key in itertools.product(*spans):
            part = [
                [max(lo, k * c), min(hi, (k + 1) * c)]
                for (lo, hi), k, c in zip(box, key, self.chunks, strict=True)
            ]
            inside = tuple(
                slice(lo - k * c, hi - k * c)
                for (lo, hi), k, c in zip(part, key, self.chunks, strict=True)
            )
            yield key, inside, part


def _local(part: Sequence[Sequence[int]], box: Sequence[Sequence[int]]) -> tuple[slice, ...]:
    return tuple(slice(lo - b, hi - b) for (lo, hi), (b, _) in zip(part, box, strict=True))


def _ceil(size: int, chunk: int) -> int:
    return -(-size // chunk)
