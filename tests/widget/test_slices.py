"""Slices: the protocol's axis layout, wire dtypes, bytes, and the display statistics."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.data import phantom
from nni_jupyter.widget.slices import extract_slice, intensity_stats, wire_dtype
from nni_jupyter.windows import CT_WINDOWS, default_window, looks_like_ct, window_for


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


def test_intensity_stats_and_percentile_window():
    volume = np.linspace(0, 2000, 50 * 40 * 30).reshape(50, 40, 30)  # e.g. MRI: no air at -1000
    volume[0, 0, 0] = np.nan
    stats = intensity_stats(volume)
    assert set(stats) == {"min", "max", "p01", "p99", "p005", "p995"}
    assert stats["max"] == 2000 and stats["min"] > 0
    assert 0 < stats["p005"] < stats["p01"] < stats["p99"] < stats["p995"] < 2000
    assert not looks_like_ct(stats)
    level, width = default_window(stats)
    assert level == pytest.approx(1000, abs=20) and width == pytest.approx(1980, rel=0.02)
    assert default_window(intensity_stats(np.ones((3, 3, 3))))[1] > 0


def test_ct_opens_in_the_soft_tissue_window():
    image, _ = phantom((64, 64, 64), seed=1)
    stats = intensity_stats(image)
    assert looks_like_ct(stats)
    assert default_window(stats) == list(CT_WINDOWS["soft tissue"])
    # the same anatomy shifted to positive values (an unsigned export) is not taken for HU
    assert not looks_like_ct(intensity_stats(image.astype(np.int32) + 1024))
    assert not looks_like_ct(intensity_stats((image - image.mean()) / image.std()))


def test_window_presets_and_pairs():
    assert window_for("lung") == list(CT_WINDOWS["lung"])
    assert window_for((50, 350)) == [50.0, 350.0]
    with pytest.raises(ValueError, match="presets: soft tissue"):
        window_for("lungs")
    with pytest.raises(ValueError, match="width > 0"):
        window_for((40, 0))
    with pytest.raises(ValueError, match="level, width"):
        window_for((1, 2, 3))
