"""Slices: the protocol's axis layout, wire dtypes, bytes, and the display statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.widget.slices import default_window, extract_slice, intensity_stats, wire_dtype


@pytest.mark.parametrize(
    ("axis", "expected"),
    [(0, lambda v: v[3, :, :]), (1, lambda v: v[:, 3, :]), (2, lambda v: v[:, :, 3])],
)
def test_slice_axes_and_bytes(axis, expected):
    volume = np.arange(5 * 6 * 7, dtype=np.int16).reshape(5, 6, 7)
    data, meta = extract_slice(volume, axis, 3, wire_dtype(volume))
    plane = expected(volume)
    assert meta == {"dtype": "int16", "shape": list(plane.shape)}
    assert np.array_equal(np.frombuffer(data, dtype="<i2").reshape(plane.shape), plane)


@pytest.mark.parametrize(
    ("dtype", "values", "wire"),
    [
        (np.uint8, [0, 255], "uint8"),
        (np.float32, [0.5, 2], "float32"),
        (np.float64, [0.5, 2], "float32"),
        (np.float16, [0.5, 2], "float32"),
        (np.bool_, [0, 1], "uint8"),
        (np.int64, [-5, 3000], "int32"),
        (np.int64, [0, 2**40], "float32"),
        (np.uint64, [0, 7], "uint32"),
        (">i2", [-3, 3], "int16"),
    ],
)
def test_wire_dtype(dtype, values, wire):
    volume = np.array(values, dtype=dtype).reshape(1, 1, 2)
    chosen = wire_dtype(volume)
    assert chosen.name == wire and chosen.byteorder in ("<", "=", "|")
    data, _ = extract_slice(volume, 0, 0, chosen)
    assert np.array_equal(
        np.frombuffer(data, dtype=chosen).astype(float), np.asarray(values, float)
    )


def test_out_of_range_slice_is_an_error():
    volume = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="0..3"):
        extract_slice(volume, 2, 4, wire_dtype(volume))
    with pytest.raises(ValueError, match="axis"):
        extract_slice(volume, 3, 0, wire_dtype(volume))


def test_intensity_stats_and_window():
    volume = np.linspace(-1000, 1000, 50 * 40 * 30).reshape(50, 40, 30)
    volume[0, 0, 0] = np.nan
    stats = intensity_stats(volume)
    assert set(stats) == {"min", "max", "p01", "p99", "p005", "p995"}
    assert stats["max"] == 1000 and stats["min"] > -1000
    assert -1000 < stats["p005"] < stats["p01"] < stats["p99"] < stats["p995"] < 1000
    level, width = default_window(stats)
    assert level == pytest.approx(0, abs=20) and width == pytest.approx(1980, rel=0.02)
    assert default_window(intensity_stats(np.ones((3, 3, 3))))[1] > 0
