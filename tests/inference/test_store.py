"""The tiled interaction store reads and writes like a dense tensor."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nni_jupyter.inference.store import InteractionStore

SHAPE = (21, 17, 13)


@st.composite
def regions(draw):
    region = []
    for size in SHAPE:
        lo = draw(st.integers(0, size - 1))
        region.append([lo, draw(st.integers(lo + 1, size))])
    return region


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), regions(), st.floats(0, 4)), min_size=1, max_size=6))
def test_store_matches_dense(writes) -> None:
    store = InteractionStore(2, SHAPE, tile_size=8)
    dense = torch.zeros(2, *SHAPE, dtype=torch.float16)
    for channel, region, value in writes:
        values = torch.full([hi - lo for lo, hi in region], value, dtype=torch.float16)
        store.write(channel, region, values)
        dense[(channel, *[slice(lo, hi) for lo, hi in region])] = values
    window = [[-3, 25], [2, 30], [-1, 5]]
    for channel in range(2):
        out = torch.empty([hi - lo for lo, hi in window], dtype=torch.float16)
        store.read_into(channel, window, out)
        expected = torch.zeros_like(out)
        expected[3:24, 0:15, 1:6] = dense[channel, :, 2:17, 0:5]
        assert torch.equal(out, expected)


def test_store_allocates_only_touched_tiles_and_frees_zeroed_ones() -> None:
    store = InteractionStore(7, (128, 128, 128), tile_size=64)
    assert store.nbytes == 0
    store.write(3, [[10, 12], [10, 12], [10, 12]], torch.ones(2, 2, 2))
    assert store.nbytes == 64**3 * 2
    assert store.is_empty(3, [[70, 80], [0, 5], [0, 5]])
    assert not store.is_empty(3, [[0, 20], [0, 20], [0, 20]])
    store.write(3, [[10, 12], [10, 12], [10, 12]], torch.zeros(2, 2, 2))
    assert store.nbytes == 0


def test_channel_bbox_and_scaling() -> None:
    store = InteractionStore(2, SHAPE, tile_size=8)
    store.write(0, [[3, 10], [5, 6], [0, 13]], torch.ones(7, 1, 13))
    store.write(1, [[0, 2], [0, 2], [0, 2]], torch.full((2, 2, 2), 2.0))
    assert store.channel_bbox(0) == [[3, 10], [5, 6], [0, 13]]
    store.scale_channels([1], 0.25)
    assert store.read(1, [[0, 1], [0, 1], [0, 1]]).item() == 0.5
    assert store.channel_bbox(1, threshold=0.5) is None
