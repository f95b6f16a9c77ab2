"""Slices of a lazy volume at the resolution they are shown at.

A 2048 × 2048 slice of a Zarr chunked 128³ crosses 256 chunks (512 MiB of uint8 to decode) and is
shown in a notebook cell a few hundred pixels wide. Scrolling at full resolution would decode and
send 16 times more than anyone sees. :class:`DisplayReader` keeps, per chunk and viewing axis, a
copy decimated by ``stride`` in the two in-plane axes (every ``stride``-th voxel, counted from the
volume's origin, so neighbouring chunks line up) and full along the viewing axis: the first slice
of a chunk slab decodes its chunks once, and the next ``chunk edge - 1`` slices are assembled
from copies ``stride²`` times smaller. Its cache is separate from the volume's, so scrolling never
evicts the chunks a prompt reads, nor the other way round.

When the volume has coarser levels (an OME-Zarr pyramid, read by
:func:`nni_jupyter.volumes.ome_zarr.read_ome_zarr`), a stride that a level's factor divides is
read from the coarsest such level instead: less to decode, and an average rather than a pick.
A zoomed-in view asks for a region of the plane at a finer stride, down to full resolution.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .lazy import ChunkCache, CoarserLevel, LazyVolume, _blocks_overlapping, _materialise

#: Bytes of decimated chunk copies kept for display (per reader).
DISPLAY_CACHE_BYTES = 256 * 2**20


def stride_for(shape: tuple[int, int], max_side: int) -> int:
    """The smallest integer stride that brings both sides of a ``shape`` plane to at most
    ``max_side`` voxels (1: full resolution)."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1; got {max_side}")
    longest = max(shape)
    return max(1, -(-longest // max_side))


def check_region(
    region: tuple[tuple[int, int], tuple[int, int]] | None,
    plane: tuple[int, int],
    stride: int,
) -> tuple[tuple[int, int], tuple[int, int]]:
    """``region`` (``[lo, hi)`` per in-plane axis; None: the whole ``plane``) checked against
    the plane's shape and ``stride``."""
    if region is None:
        return (0, plane[0]), (0, plane[1])
    checked = []
    for n, pair in zip(plane, region, strict=True):
        lo, hi = (int(v) for v in pair)
        if not 0 <= lo < hi <= n:
            raise ValueError(f"region {list(region)} is not inside the plane {list(plane)}")
        if lo % stride:
            raise ValueError(f"region starts {lo}, not a multiple of the stride {stride}")
        checked.append((lo, hi))
    return checked[0], checked[1]


class DisplayReader:
    """Decimated slices of a 3-D :class:`LazyVolume` (no leading axes), cached per chunk.

    Parameters
    ----------
    volume
        The volume shown.
    cache_bytes
        Bound of the cache of decimated chunk copies.
    """

    def __init__(
        self,
        volume: LazyVolume,
        cache_bytes: int = DISPLAY_CACHE_BYTES,
        coarser: Sequence[CoarserLevel] | None = None,
    ):
        if volume.leading or volume.ndim != 3:
            raise ValueError(
                f"a display reader shows a 3-D volume without leading axes; got shape "
                f"{volume.shape}"
            )
        self.volume = volume
        #: Coarser copies shown instead of decimating (default: the volume's own pyramid).
        self.coarser = tuple(volume.coarser if coarser is None else coarser)
        self.cache = ChunkCache(cache_bytes)
        self._lock = threading.Lock()

    def slice(
        self,
        axis: int,
        index: int,
        stride: int,
        region: tuple[tuple[int, int], tuple[int, int]] | None = None,
    ) -> np.ndarray:
        """The plane ``index`` along ``axis`` (0, 1 or 2 of ``[X, Y, Z]``), its two other axes
        in increasing order and taken every ``stride`` voxels from 0: shape
        ``ceil(n / stride)`` per in-plane axis of length ``n``.

        ``region`` limits it to ``[lo, hi)`` along each in-plane axis (``lo`` a multiple of
        ``stride``): shape ``ceil((hi - lo) / stride)``, element ``(p, q)`` the voxel
        ``(lo_0 + p * stride, lo_1 + q * stride)`` of the plane.

        When a coarser level's in-plane factor ``f`` (the same on both axes) divides
        ``stride``, the coarsest such level is read instead, every ``stride / f`` voxels: its
        voxel stands for the ``f x f`` block it was made from (usually an average) rather than
        for that block's first voxel. Nothing finer is decoded.
        """
        volume = self.volume
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2; got {axis}")
        if not 0 <= index < volume.shape[axis]:
            raise ValueError(
                f"slice index {index} is outside axis {axis} (0..{volume.shape[axis] - 1})"
            )
        if stride < 1:
            raise ValueError(f"stride must be at least 1; got {stride}")
        first, second = (a for a in range(3) if a != axis)
        in_plane = (first, second)
        bounds = check_region(
            region, (volume.shape[in_plane[0]], volume.shape[in_plane[1]]), stride
        )
        shape = tuple(-(-(hi - lo) // stride) for lo, hi in bounds)
        for level in reversed(self.coarser):  # coarsest first
            plane = self._from_level(level, axis, index, stride, bounds, in_plane, shape)
            if plane is not None:
                return plane
        return self._plane(volume, axis, index, stride, bounds)

    def _from_level(
        self,
        level: CoarserLevel,
        axis: int,
        index: int,
        stride: int,
        bounds: tuple[tuple[int, int], tuple[int, int]],
        in_plane: tuple[int, int],
        shape: tuple[int, ...],
    ) -> np.ndarray | None:
        """The plane read from ``level``, or None when the level does not fit the request."""
        factor = level.factors[in_plane[0]]
        if level.factors[in_plane[1]] != factor or stride % factor:
            return None
        coarse = level.volume
        at = min(index // level.factors[axis], coarse.shape[axis] - 1)
        # the fine region [lo, hi) is the coarse one [lo / f, ceil(hi / f)), lo / f a
        # multiple of stride / f; a level rounded down may end early (edges are repeated)
        step = stride // factor
        sides = (coarse.shape[in_plane[0]], coarse.shape[in_plane[1]])
        inside = []
        for (lo, hi), n in zip(bounds, sides, strict=True):
            if lo // factor >= n:
                return None
            inside.append((lo // factor, min(-(-hi // factor), n)))
        plane = self._plane(coarse, axis, at, step, (inside[0], inside[1]))
        short = [(0, want - got) for want, got in zip(shape, plane.shape, strict=True)]
        if any(pad < 0 for _, pad in short):
            return None
        if any(pad for _, pad in short):
            plane = np.pad(plane, short, mode="edge")
        return plane.astype(self.volume.dtype, copy=False)

    def _plane(
        self,
        volume: LazyVolume,
        axis: int,
        index: int,
        stride: int,
        bounds: tuple[tuple[int, int], tuple[int, int]],
    ) -> np.ndarray:
        """Decimated plane of ``volume`` over ``bounds`` (already checked)."""
        in_plane = [a for a in range(3) if a != axis]
        out = np.empty([-(-(hi - lo) // stride) for lo, hi in bounds], dtype=volume.dtype)
        # our axis a covers [region[a][0], region[a][1]) of the source's axis order[a]
        wanted = [(lo, hi) for lo, hi in volume.region]
        wanted[axis] = (wanted[axis][0] + index, wanted[axis][0] + index + 1)
        for a, (lo, hi) in zip(in_plane, bounds, strict=True):
            wanted[a] = (volume.region[a][0] + lo, volume.region[a][0] + hi)
        spans = [
            _blocks_overlapping(volume.blocks[volume.order[a]], lo, hi)
            for a, (lo, hi) in enumerate(wanted)
        ]
        for position in np.ndindex(*[len(s) for s in spans]):
            block = [spans[a][i] for a, i in enumerate(position)]
            copy = self._decimated(volume, axis, stride, tuple(b[0] for b in block), block)
            at = wanted[axis][0] - max(block[axis][1], volume.region[axis][0])
            plane = copy[(slice(None),) * axis + (at,)]
            target, pick = [], []
            for a, (lo, hi) in zip(in_plane, bounds, strict=True):
                # the copy's element j is the voxel c0 + j * stride (volume coordinates), c0
                # the first multiple of stride in the chunk; keep those in [lo, hi)
                first = max(block[a][1], volume.region[a][0]) - volume.region[a][0]
                c0 = -(-first // stride) * stride
                begin = max(0, (lo - c0) // stride)
                end = min(-(-(hi - c0) // stride), plane.shape[in_plane.index(a)])
                pick.append(slice(begin, max(begin, end)))
                start = (c0 + begin * stride - lo) // stride
                target.append(slice(start, start + max(0, end - begin)))
            out[tuple(target)] = plane[tuple(pick)]
        return out

    def _decimated(
        self,
        volume: LazyVolume,
        axis: int,
        stride: int,
        index: tuple[int, ...],
        block: list[tuple[int, int, int]],
    ) -> np.ndarray:
        """The chunk at ``index`` (our axes) inside ``volume``'s region, decimated in-plane."""
        key = (id(volume.source), index, axis, stride)
        with self._lock:
            found = self.cache.get(key)
        if found is not None:
            return found
        ranges = []
        for a, (_, start, stop) in enumerate(block):
            lo, hi = volume.region[a]
            ranges.append((max(start, lo), min(stop, hi)))
        source_key = [slice(0, 0)] * 3
        for a, (lo, hi) in enumerate(ranges):
            source_key[volume.order[a]] = slice(lo, hi)
        data = _materialise(volume.source[tuple(source_key)])
        data = data.transpose(volume.order)  # our axis a is the source's axis order[a]
        picks = []
        for a, (lo, _) in enumerate(ranges):
            if a == axis:
                picks.append(slice(None))
                continue
            offset = lo - volume.region[a][0]  # volume coordinate of the chunk's first voxel
            picks.append(slice((-offset) % stride, None, stride))
        decimated = np.ascontiguousarray(data[tuple(picks)])
        with self._lock:
            self.cache.put(key, decimated)
        return decimated
