"""A sparse owner map (a lazy image's labels) in a save file: only the chunks that hold labels.

A 2048 x 2048 x 1024 image's owner map is 4 GiB dense, though a few objects fill a few chunks of
it. Save files of version 3 hold, instead of the dense ``owner`` array:

- ``owner_chunks``: ``[N, cx, cy, cz]``, the stored chunks (edge chunks padded with zeros);
- ``owner_at``: int64 ``[N, 3]``, each chunk's index in the chunk grid;

and ``meta["owner_chunks"]`` gives the chunk shape ``[cx, cy, cz]``. Reading checks both headers
before any data is decompressed (:mod:`.npz`), then every index and every padding voxel.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..volumes import SparseVolume
from . import npz
from .objects import OWNER_DTYPES

#: ``meta`` key of the chunk shape; its presence marks a sparse file.
CHUNKS_KEY = "owner_chunks"


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
    """The owner map of a sparse file, every part checked; ValueError says what is wrong."""
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

    def expect_chunks(found: tuple[int, ...], dtype: np.dtype) -> None:
        wanted = [len(at), *edge]
        if dtype not in OWNER_DTYPES or list(found) != wanted:
            raise ValueError(
                f"its owner_chunks array must be uint8 or uint16 {wanted}; got {dtype} {found}"
            )

    chunks = npz.read_array(archive, "owner_chunks", expect_chunks)
    owner = SparseVolume(shape, chunks.dtype, edge)
    seen = set()
    for index, values in zip(at.tolist(), chunks, strict=True):
        if any(not 0 <= k < n for k, n in zip(index, grid, strict=True)):
            raise ValueError(f"its owner_at holds chunk {index}, outside the grid {grid}")
        if tuple(index) in seen:
            raise ValueError(f"its owner_at holds chunk {index} twice")
        seen.add(tuple(index))
        box = owner.chunk_box(index)
        inside = tuple(slice(0, hi - lo) for lo, hi in box)
        if values.any() and np.count_nonzero(values) != np.count_nonzero(values[inside]):
            raise ValueError(f"chunk {index} holds labels past the image's edge")
        owner.write(box, values[inside])
    return owner


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
    return list(value)
