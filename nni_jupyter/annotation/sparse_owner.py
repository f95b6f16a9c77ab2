"""A sparse owner map (a lazy image's labels) in a save file: only the chunks that hold labels.

A 2048 x 2048 x 1024 image's owner map is 4 GiB dense, though a few objects fill a few chunks of
it. Save files of version 3 hold, instead of the dense ``owner`` array:

- ``owner_chunks``: ``[N, cx, cy, cz]``, the stored chunks (edge chunks padded with zeros);
- ``owner_at``: int64 ``[N, 3]``, each chunk's index in the chunk grid;

and ``meta["owner_chunks"]`` gives the chunk shape ``[cx, cy, cz]``. Reading checks the chunk
shape and both headers against the image's chunk grid before any data is decompressed
(:mod:`.npz`), then every index and every padding voxel, reading one chunk at a time.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np

from ..volumes import SparseVolume
from . import npz
from .objects import OWNER_DTYPES

#: ``meta`` key of the chunk shape; its presence marks a sparse file.
CHUNKS_KEY = "owner_chunks"
#: The smallest chunk edge read (writers use 64, or the image's side when smaller).
MIN_EDGE = 16


def pack(owner: SparseVolume) -> tuple[dict[str, np.ndarray], list[int]]:
    """The arrays that store ``owner`` and its chunk shape."""
    edge = list(owner.chunks)
    boxes = list(owner.iter_chunks())
    chunks = np.zeros((len(boxes), *edge), dtype=owner.dtype)
    at = np.zeros((len(boxes), 3), dtype=np.int64)
    for n, (box, values) in enumerate(boxes):
        at[n] = [lo // c for (lo, _), c in zip(box, edge, strict=True)]
        chunks[n][tuple(slice(0, s) for s in values.shape)] = values
    return {"owner_chunks": chunks, "owner_at": at}, edge


def unpack(
    archive: zipfile.ZipFile, meta: dict[str, Any], shape: tuple[int, int, int]
) -> SparseVolume:
    """The owner map of a sparse file, every part checked; ValueError says what is wrong.

    Memory stays bounded by what the file really holds: the chunk shape is checked first (each
    edge at least :data:`MIN_EDGE`, so the chunk table of a grid is small), the table against
    the grid with numpy (no per-entry Python objects), and the chunks are decompressed one at a
    time, those without labels dropped (a writer never stores one).
    """
    edge = _chunk_shape(meta.get(CHUNKS_KEY), shape)
    grid = [-(-s // c) for s, c in zip(shape, edge, strict=True)]
    limit = int(np.prod(grid))

    def expect_at(found: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype != np.int64 or len(found) != 2 or found[1] != 3 or found[0] > limit:
            raise ValueError(
                f"its owner_at array must be int64 [N, 3] with N <= {limit} (the chunk grid "
                f"{grid}); got {dtype} {found}"
            )

    at = npz.read_array(archive, "owner_at", expect_at)
    _check_table(at, grid)
    owner: SparseVolume | None = None
    for index, values in zip(at.tolist(), _chunks(archive, len(at), edge), strict=True):
        if owner is None:
            owner = SparseVolume(shape, values.dtype, edge)
        box = owner.chunk_box(index)
        inside = tuple(slice(0, hi - lo) for lo, hi in box)
        if values.any() and np.count_nonzero(values) != np.count_nonzero(values[inside]):
            raise ValueError(f"chunk {index} holds labels past the image's edge")
        if values.any():
            owner.write(box, values[inside])
    return owner if owner is not None else SparseVolume(shape, np.uint8, edge)


def _check_table(at: np.ndarray, grid: list[int]) -> None:
    """Every chunk index inside the grid, and none twice."""
    outside = np.any((at < 0) | (at >= np.asarray(grid)), axis=1)
    if outside.any():
        index = at[int(np.argmax(outside))].tolist()
        raise ValueError(f"its owner_at holds chunk {index}, outside the grid {grid}")
    if len(at) < 2:
        return
    linear = np.ravel_multi_index(tuple(at.T), grid)
    ordered = np.sort(linear)
    repeated = ordered[1:] == ordered[:-1]
    if repeated.any():
        twice = np.unravel_index(int(ordered[int(np.argmax(repeated))]), grid)
        raise ValueError(f"its owner_at holds chunk {[int(i) for i in twice]} twice")


def _chunks(archive: zipfile.ZipFile, count: int, edge: list[int]) -> Iterator[np.ndarray]:
    """The ``owner_chunks`` array's chunks, decompressed one at a time after its header was
    checked (a ``count`` x ``edge`` array of uint8 or uint16, of the size the entry holds)."""
    wanted = [count, *edge]
    info = archive.getinfo("owner_chunks.npy") if "owner_chunks.npy" in archive.namelist() else None
    if info is None:
        raise ValueError("it has no 'owner_chunks' array")
    with cast(zipfile.ZipExtFile, archive.open(info)) as member:
        found, fortran_order, dtype = npz._read_header(member, "owner_chunks")
        if dtype not in OWNER_DTYPES or list(found) != wanted or fortran_order:
            raise ValueError(
                f"its owner_chunks array must be uint8 or uint16 {wanted}; got {dtype} {found}"
            )
        size = math.prod(edge) * dtype.itemsize
        if info.file_size != member.tell() + count * size:
            raise ValueError(
                f"the owner_chunks array's zip entry holds {info.file_size} bytes; its header "
                f"({tuple(found)} {dtype}) implies {member.tell() + count * size} bytes"
            )
        for _ in range(count):
            data = member.read(size)
            if len(data) != size:
                raise EOFError("the owner_chunks array ends early")
            yield np.frombuffer(data, dtype).reshape(edge)


def _chunk_shape(value: Any, shape: Sequence[int]) -> list[int]:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in value)
        or any(c > max(s, 1) for c, s in zip(value, shape, strict=True))
    ):
        raise ValueError(
            f"its {CHUNKS_KEY} must be 3 positive integers no larger than the image {list(shape)}; "
            f"got {value!r}"
        )
    smallest = [min(MIN_EDGE, s) for s in shape]
    if any(c < m for c, m in zip(value, smallest, strict=True)):
        raise ValueError(
            f"its {CHUNKS_KEY} {value} is finer than a save file's chunks are (each edge at least "
            f"{MIN_EDGE}, or the image's side: {smallest}); such a grid's table could claim "
            "millions of entries"
        )
    return list(value)
