"""SparseVolume: numpy semantics for boxes, storage only where written, chunk-by-chunk answers."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.volumes import SparseVolume

SHAPE = (50, 37, 29)
CHUNKS = (16, 16, 8)


def random_box(rng: np.random.Generator) -> tuple[slice, ...]:
    lows = [int(rng.integers(0, s)) for s in SHAPE]
    return tuple(
        slice(lo, int(rng.integers(lo + 1, s + 1))) for lo, s in zip(lows, SHAPE, strict=True)
    )


def test_box_writes_and_reads_match_a_numpy_array() -> None:
    rng = np.random.default_rng(0)
    sparse, dense = SparseVolume(SHAPE, np.uint8, CHUNKS), np.zeros(SHAPE, np.uint8)
    for _ in range(40):
        box = random_box(rng)
        values = rng.integers(0, 3, dense[box].shape).astype(np.uint8)
        sparse[box], dense[box] = values, values
        other = random_box(rng)
        assert np.array_equal(sparse[other], dense[other])
    sparse[3, :, 5], dense[3, :, 5] = 7, 7  # integers drop axes, scalars broadcast
    sparse[..., 2], dense[..., 2] = 0, 0
    assert np.array_equal(sparse[3], dense[3]) and sparse[3].shape == (37, 29)
    assert np.array_equal(sparse[:, 4, ...], dense[:, 4, ...])
    assert np.array_equal(np.asarray(sparse), dense)
    assert isinstance(sparse[1:3], np.ndarray) and sparse[1:3].flags.writeable


def test_only_touched_chunks_are_stored_and_zeroed_ones_are_dropped() -> None:
    volume = SparseVolume(SHAPE, np.uint8, CHUNKS)
    assert volume.stored_chunks == 0 and not volume.any() and volume.nonzero_bbox() is None
    volume[20:21, 20:21, 10:11] = 1  # one voxel: one chunk
    assert volume.stored_chunks == 1 and volume.stored_nbytes == 16 * 16 * 8
    volume[15:18, 15:18, 7:9] = 2  # crosses 8 chunks, one of them already stored
    assert volume.stored_chunks == 8
    volume[15:18, 15:18, 7:9] = 0
    assert volume.stored_chunks == 1
    volume[20, 20, 10] = 0
    assert volume.stored_chunks == 0 and not volume.any()


def test_bbox_counts_and_chunk_iteration() -> None:
    dense = np.zeros(SHAPE, np.uint8)
    dense[5:9, 30:33, 2:4] = 1
    dense[40:41, 3:20, 20:29] = 3
    volume = SparseVolume.from_array(dense, CHUNKS)
    assert volume.nonzero_bbox() == [[5, 41], [3, 33], [2, 29]]
    assert volume.nonzero_bbox(3) == [[40, 41], [3, 20], [20, 29]]
    assert volume.nonzero_bbox(2) is None
    expected = {int(v): int(n) for v, n in zip(*np.unique(dense, return_counts=True), strict=True)}
    assert volume.counts() == expected
    rebuilt = np.zeros(SHAPE, np.uint8)
    for box, values in volume.iter_chunks():
        assert not values.flags.writeable  # stored chunks are never changed in place
        rebuilt[tuple(slice(lo, hi) for lo, hi in box)] = values
    assert np.array_equal(rebuilt, dense)


def test_widening_mapping_and_copies() -> None:
    volume = SparseVolume(SHAPE, np.uint8, CHUNKS)
    volume[1:4, 1:4, 1:4] = 255
    wide = volume.astype(np.uint16)
    wide[2, 2, 2] = 300  # fits after widening
    assert wide.dtype == np.uint16 and wide[1, 1, 1] == 255 and wide[2, 2, 2] == 300
    assert volume[2, 2, 2] == 255  # the original is untouched
    lut = np.zeros(65536, np.uint16)
    lut[300] = 9
    assert wide.map_chunks(lambda chunk: lut[chunk], np.uint16).counts() == {0: wide.size - 1, 9: 1}
    snapshot = volume.copy(read_only=True)
    volume[1:4, 1:4, 1:4] = 0
    assert snapshot[2, 2, 2] == 255 and snapshot.counts()[255] == 27  # a true snapshot
    with pytest.raises(ValueError, match="read-only"):
        snapshot[0, 0, 0] = 1


def test_bad_indices_and_values_say_what_was_expected() -> None:
    volume = SparseVolume(SHAPE, np.uint8, CHUNKS)
    with pytest.raises(IndexError, match="step 2"):
        volume[::2]
    with pytest.raises(IndexError, match="out of bounds"):
        volume[50]
    with pytest.raises(ValueError, match="could not be broadcast|broadcast"):
        volume[0:2, 0:2, 0:2] = np.ones((3, 3, 3))
    with pytest.raises(ValueError, match="holds numbers"):
        SparseVolume(SHAPE, object)
    with pytest.raises(ValueError, match="one positive edge per axis"):
        SparseVolume(SHAPE, np.uint8, (8, 8))
