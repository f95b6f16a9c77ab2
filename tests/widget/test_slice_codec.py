"""Slice transport: a run of slices is read as one block and deflated when that pays, and decodes
to the exact slices; noisy slices go raw; bad data is refused with a clear error."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from nni_jupyter.annotation.codec import decode_slice, encode_slices
from nni_jupyter.data import phantom
from nni_jupyter.widget.slices import WIRE_DTYPES, extract_slice, extract_slices, wire_dtype


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("step", [1, -1])
def test_a_run_of_phantom_slices_deflates_and_decodes_exactly(axis, step):
    image, _ = phantom(seed=3)
    indices = range(60, 60 + 5 * step, step)
    run, meta = extract_slices(image, axis, indices, wire_dtype(image))
    payloads, encoding = encode_slices(run)
    assert encoding == "deflate"
    assert sum(map(len, payloads)) < sum(map(len, run)) * 0.7
    for index, data, payload in zip(indices, run, payloads, strict=True):
        assert data == extract_slice(image, axis, index, wire_dtype(image))[0]
        plane = decode_slice(payload, encoding, meta["dtype"], meta["shape"])
        assert np.array_equal(plane, np.take(image, index, axis=axis))


def test_a_run_is_checked_like_one_slice():
    image = np.zeros((4, 5, 6), np.int16)
    with pytest.raises(ValueError, match=r"slice index 6 is outside axis 2 \(0..5\)"):
        extract_slices(image, 2, range(3, 7), wire_dtype(image))
    with pytest.raises(ValueError, match="consecutive"):
        extract_slices(image, 2, range(0, 6, 2), wire_dtype(image))


@pytest.mark.parametrize("dtype", WIRE_DTYPES)
def test_every_wire_dtype_round_trips(dtype):
    ramp = np.add.outer(np.arange(200), np.arange(150)) % 97
    plane = (ramp - 40 if np.dtype(dtype).kind != "u" else ramp).astype(dtype)
    wire = np.dtype(dtype).newbyteorder("<")
    (payload,), encoding = encode_slices([plane.astype(wire).tobytes()])
    decoded = decode_slice(payload, encoding, dtype, list(plane.shape))
    assert decoded.dtype == wire
    assert np.array_equal(decoded, plane)


def test_noise_and_small_slices_go_raw():
    noise = np.random.default_rng(0).normal(size=(256, 256)).astype("<f4").tobytes()
    assert encode_slices([noise, noise]) == ([noise, noise], "raw")
    small = np.zeros((10, 10), "<i2").tobytes()  # compressible, but too small to be worth it
    assert encode_slices([small]) == ([small], "raw")


def test_decode_refuses_wrong_data():
    plane = np.zeros((64, 64), "<i2")
    with pytest.raises(ValueError, match="encoding must be one of"):
        decode_slice(plane.tobytes(), "lz4", "int16", [64, 64])
    with pytest.raises(ValueError, match="not zlib"):
        decode_slice(plane.tobytes(), "deflate", "int16", [64, 64])
    with pytest.raises(ValueError, match=r"has 8190 bytes; int16 \[64, 64\] needs 8192"):
        decode_slice(zlib.compress(plane.tobytes()[:-2]), "deflate", "int16", [64, 64])
