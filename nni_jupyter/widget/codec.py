"""Binary encodings of masks for the wire and for the prompt record (see PROTOCOL.md).

A mask crop travels as ``packbits-deflate``: the crop's 0/1 voxels in C order, packed eight to a
byte with ``bitorder="little"``, then zlib (RFC 1950). A smooth 3-D mask shrinks to a few percent
of its raw uint8 size this way.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

ENCODING = "packbits-deflate"
_ZLIB_LEVEL = 6


def encode_mask(crop: np.ndarray) -> bytes:
    """Encode a 0/1 mask crop (any dtype, nonzero = 1) as ``packbits-deflate`` bytes.

    Parameters
    ----------
    crop
        N-D array; its shape is not stored, the decoder needs it.
    """
    bits = np.packbits(np.asarray(crop).ravel(order="C") != 0, bitorder="little")
    return zlib.compress(bits.tobytes(), _ZLIB_LEVEL)


def decode_mask(data: bytes, shape: Sequence[int]) -> np.ndarray:
    """Decode ``packbits-deflate`` bytes into a uint8 0/1 array of ``shape``.

    Raises
    ------
    ValueError
        If the data is not zlib or holds fewer bits than ``shape`` needs.
    """
    try:
        raw = zlib.decompress(data)
    except zlib.error as exc:
        raise ValueError(f"mask data is not zlib-compressed ({exc})") from exc
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) * 8 < count:
        raise ValueError(f"mask data holds {len(raw) * 8} bits; shape {tuple(shape)} needs {count}")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=count, bitorder="little")
    return bits.reshape(tuple(shape))
