"""Slice transport: a deflated slice decodes to the exact slice; noisy slices go raw; bad data is
refused with a clear error."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from nni_jupyter.data import phantom
from nni_jupyter.widget.codec import decode_slice, encode_slice
from nni_jupyter.widget.slices import WIRE_DTYPES, extract_slice, wire_dtype


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_phantom_slice_deflates_and_decodes_exactly(axis):
    image, _ = phantom(seed=3)
    data, meta = extract_slice(image, axis, 60, wire_dtype(image))
    payload, encoding = encode_slice(data)
    assert encoding == "deflate"
    assert len(payload) < len(data) * 0.7
    plane = decode_slice(payload, encoding, meta["dtype"], meta["shape"])
    assert np.array_equal(plane, np.take(image, 60, axis=axis))


@pytest.mark.parametrize("dtype", WIRE_DTYPES)
def test_every_wire_dtype_round_trips(dtype):
    ramp = np.add.outer(np.arange(200), np.arange(150)) % 97
    plane = (ramp - 40 if np.dtype(dtype).kind != "u" else ramp).astype(dtype)
    payload, encoding = encode_slice(plane.astype(np.dtype(dtype).newbyteorder("<")).tobytes())
    decoded = decode_slice(payload, encoding, dtype, list(plane.shape))
    assert decoded.dtype == np.dtype(dtype).newbyteorder("<")
    assert np.array_equal(decoded, plane)


def test_noise_and_small_slices_go_raw():
    noise = np.random.default_rng(0).normal(size=(256, 256)).astype("<f4").tobytes()
    assert encode_slice(noise) == (noise, "raw")
    small = np.zeros((10, 10), "<i2").tobytes()  # compressible, but too small to be worth it
    assert encode_slice(small) == (small, "raw")


def test_decode_refuses_wrong_data():
    plane = np.zeros((64, 64), "<i2")
    with pytest.raises(ValueError, match="encoding must be one of"):
        decode_slice(plane.tobytes(), "lz4", "int16", [64, 64])
    with pytest.raises(ValueError, match="not zlib"):
        decode_slice(plane.tobytes(), "deflate", "int16", [64, 64])
    with pytest.raises(ValueError, match=r"has 8190 bytes; int16 \[64, 64\] needs 8192"):
        decode_slice(zlib.compress(plane.tobytes()[:-2]), "deflate", "int16", [64, 64])
