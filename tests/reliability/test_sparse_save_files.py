"""Save files of a lazy image's sparse labels (version 3): only the stored chunks are written,
and a hostile or damaged chunk table is refused, saying what is wrong, before anything is built."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.annotation import persistence
from nni_jupyter.volumes import SparseVolume

SHAPE = (40, 36, 32)
EDGE = [16, 16, 16]  # a grid of 3 x 3 x 2 chunks


def _meta(**changes) -> dict:
    return {
        "format": persistence.FORMAT,
        "version": 3,
        "shape": list(SHAPE),
        "image_dtype": "<i2",
        "image_fingerprint": "x",
        "objects": [{"id": 1, "name": "a", "color": [230, 159, 0], "class_id": 1}],
        "active_object": 1,
        "overlap": "lock",
        "prompts": [],
        "stamps": [],
        "owner_chunks": EDGE,
        **changes,
    }


def _write(path: Path, at, chunks, **changes) -> Path:
    meta = np.array(json.dumps(_meta(**changes)))
    at = np.asarray(at, dtype=np.int64) if isinstance(at, list) else at
    np.savez_compressed(path, owner_at=at, owner_chunks=np.asarray(chunks), meta=meta)
    return path


def _chunks(n: int, value: int = 1, x: int = 2) -> np.ndarray:
    chunks = np.zeros((n, *EDGE), np.uint8)
    chunks[:, x : x + 3, 3:6, 1:4] = value
    return chunks


def test_a_sparse_file_reads_back_as_the_chunks_written(tmp_path) -> None:
    owner = SparseVolume(SHAPE, np.uint8, EDGE)
    owner.write([[32, 40], [16, 32], [16, 32]], np.ones((8, 16, 16), np.uint8))  # an edge chunk
    owner.write([[0, 3], [0, 2], [0, 1]], np.ones((3, 2, 1), np.uint8))
    arrays, edge = persistence.sparse_owner.pack(owner)
    assert arrays["owner_chunks"].shape == (2, 16, 16, 16) and edge == EDGE
    path = _write(tmp_path / "s.npz", arrays["owner_at"], arrays["owner_chunks"])
    snapshot = persistence.read_snapshot(path, SHAPE)
    assert isinstance(snapshot.owner, SparseVolume)
    assert np.array_equal(np.asarray(snapshot.owner), np.asarray(owner))


CASES = {
    "outside the grid": ([[3, 0, 0]], _chunks(1), {}, r"chunk \[3, 0, 0\], outside the grid"),
    "twice": ([[0, 0, 0], [0, 0, 0]], _chunks(2), {}, r"chunk \[0, 0, 0\] twice"),
    "past the edge": ([[2, 0, 0]], _chunks(1, x=9), {}, "past the image's edge"),
    "at of floats": (np.zeros((1, 3)), _chunks(1), {}, "owner_at array must be int64"),
    "more chunks than the grid": (
        np.zeros((19, 3), np.int64),
        _chunks(19),
        {},
        r"N <= 18",
    ),
    "counts differ": (
        [[0, 0, 0]],
        _chunks(2),
        {},
        r"owner_chunks array must be uint8 or uint16 \[1,",
    ),
    "chunk shape too big": ([[0, 0, 0]], _chunks(1), {"owner_chunks": [64, 16, 16]}, "no larger"),
    "chunk shape missing": ([[0, 0, 0]], _chunks(1), {"owner_chunks": None}, "3 positive integers"),
    "version 2": ([[0, 0, 0]], _chunks(1), {"version": 2}, "version 3 files hold"),
    "label without object": ([[0, 0, 0]], _chunks(1, 5), {}, r"without an object \[5\]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_chunk_table_is_refused_naming_the_path(tmp_path, case) -> None:
    at, chunks, changes, expected = CASES[case]
    path = _write(tmp_path / "bad.npz", at, chunks, **changes)
    with pytest.raises(ValueError, match=expected) as info:
        persistence.read_snapshot(path, SHAPE)
    assert str(path) in str(info.value)


def test_a_large_image_is_fingerprinted_from_blocks_and_old_full_prints_still_match(
    tmp_path, monkeypatch
) -> None:
    from nni_jupyter.volumes import LazyVolume

    monkeypatch.setattr(persistence, "SAMPLED_FINGERPRINT_ABOVE", 10_000)  # "large" here
    rng = np.random.default_rng(0)
    image = rng.integers(-1000, 1000, (160, 150, 140), dtype=np.int16)
    other = image.copy()
    other[45:50, 0:5, 40:44] += 1  # inside the sampled block at (32, 0, 32)
    zarr = pytest.importorskip(
        "zarr", reason="needs the zarr extra: pip install 'nni_jupyter[zarr]'"
    )
    stored = zarr.create_array(
        tmp_path / "i.zarr", shape=image.shape, chunks=(16, 16, 16), dtype="i2"
    )
    stored[...] = image
    lazy = LazyVolume(stored, cache_bytes=64 << 20)
    sampled = persistence.image_fingerprint(lazy)
    assert sampled.startswith(persistence.SAMPLED_PREFIX)
    assert lazy.cache.nbytes < image.nbytes  # not read whole
    assert persistence.image_fingerprint(image) == sampled  # lazy or in memory alike
    assert persistence.image_fingerprint(other) != sampled
    full = persistence._full_fingerprint(image)
    for saved in (sampled, full):  # a file written before sampling holds the full print
        persistence.check_image({"image_fingerprint": saved}, image, "f.npz", strict=True)
        with pytest.raises(ValueError, match="saved for a different image"):
            persistence.check_image({"image_fingerprint": saved}, other, "f.npz", strict=True)
