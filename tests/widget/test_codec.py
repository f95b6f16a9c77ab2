"""Mask patches: packbits-deflate round trip, the wire format's exact bytes, and their size."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nni_jupyter.annotation.codec import decode_mask, encode_mask
from nni_jupyter.core.regions import nonzero_bbox


@settings(max_examples=80, deadline=None)
@given(arrays(np.uint8, st.tuples(*[st.integers(1, 9)] * 3), elements=st.integers(0, 1)))
def test_round_trip(crop):
    assert np.array_equal(decode_mask(encode_mask(crop), crop.shape), crop)


def test_wire_format_is_zlib_of_little_endian_packbits_in_c_order():
    crop = np.zeros((2, 3, 2), dtype=bool)
    crop[0, 0, 1] = crop[1, 2, 0] = True  # flat C-order indices 1 and 10
    raw = zlib.decompress(encode_mask(crop))
    assert raw == bytes([0b00000010, 0b00000100])


def test_nonzero_values_count_as_one():
    crop = np.array([[[0, 3, 255]]], dtype=np.uint8)
    assert decode_mask(encode_mask(crop), crop.shape).tolist() == [[[0, 1, 1]]]


def test_decode_rejects_bad_data():
    with pytest.raises(ValueError, match="not zlib"):
        decode_mask(b"not zlib at all", (2, 2, 2))
    with pytest.raises(ValueError, match="needs 72"):
        decode_mask(encode_mask(np.ones(8)), (2, 6, 6))


def test_a_sphere_patch_is_under_five_percent_of_its_raw_bbox():
    x, y, z = np.ogrid[:128, :128, :128]
    sphere = (x - 64) ** 2 + (y - 64) ** 2 + (z - 64) ** 2 <= 40**2
    bbox = nonzero_bbox(sphere)
    crop = sphere[tuple(slice(lo, hi) for lo, hi in bbox)]
    assert len(encode_mask(crop)) < 0.05 * crop.size
