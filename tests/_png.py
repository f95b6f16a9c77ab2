"""Read the PNG files nni_jupyter writes (8-bit RGB, unfiltered rows), with no image library."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit RGB PNG with filter 0 rows (what nni_jupyter writes) as (height, width, 3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        tag, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        at += 12 + length
    assert header is not None
    width, height, depth, colour = header[:4]
    assert (depth, colour) == (8, 2)
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all(), "rows use filter 0"
    return rows[:, 1:].reshape(height, width, 3)
