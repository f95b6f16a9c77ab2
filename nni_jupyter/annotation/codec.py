"""Binary encodings for the wire and for the prompt record (see PROTOCOL.md).

A mask crop travels as ``packbits-deflate``: the crop's 0/1 voxels in C order, packed eight to a
byte with ``bitorder="little"``, then zlib (RFC 1950). A smooth 3-D mask shrinks to a few percent
of its raw uint8 size this way.

A slice travels as ``raw`` bytes or, when that pays, ``deflate``: zlib (RFC 1950) of the same
bytes at the fastest level. Every byte the kernel sends passes through the Jupyter server and the
browser's message handling, so a slice a tenth of its size arrives several times sooner.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

ENCODING = "packbits-deflate"
_ZLIB_LEVEL = 6
#: Encodings a slice buffer may travel in (PROTOCOL.md ``slice``).
SLICE_ENCODINGS = ("raw", "deflate")
# Fastest zlib level: compressing must cost less than moving the bytes it saves.
_SLICE_LEVEL = 1
# Slices this small go raw; the probe: a few spread pieces, deflated only if they shrink enough.
_SLICE_MIN_BYTES = 16 * 1024
_PROBE_PIECES = 4
_PROBE_PIECE_BYTES = 8 * 1024
_PROBE_MAX_RATIO = 0.7


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


def encode_slices(run: Sequence[bytes]) -> tuple[list[bytes], str]:
    """Return ``(payloads, encoding)`` for the raw bytes of a run of slices: all ``deflate`` when
    it pays, else all raw.

    A few pieces spread through the first slice are deflated first; a noisy image (which would
    shrink little at a high cost) goes raw without compressing the rest. Neighbouring slices
    look alike, so the first speaks for the run.
    """
    if not run or len(run[0]) < _SLICE_MIN_BYTES:
        return list(run), "raw"
    first = run[0]
    stride = len(first) // _PROBE_PIECES
    probe = b"".join(
        first[k * stride : k * stride + _PROBE_PIECE_BYTES] for k in range(_PROBE_PIECES)
    )
    if len(zlib.compress(probe, _SLICE_LEVEL)) > _PROBE_MAX_RATIO * len(probe):
        return list(run), "raw"
    return [zlib.compress(data, _SLICE_LEVEL) for data in run], "deflate"


def decode_slice(payload: bytes, encoding: str, dtype: str, shape: Sequence[int]) -> np.ndarray:
    """Decode a ``slice`` message's buffer into its 2-D array (little-endian ``dtype``).

    Raises
    ------
    ValueError
        If the encoding is unknown, the payload is not zlib, or its size does not fit ``shape``.
    """
    if encoding not in SLICE_ENCODINGS:
        raise ValueError(f"slice encoding must be one of {SLICE_ENCODINGS}; got {encoding!r}")
    raw = bytes(payload)
    if encoding == "deflate":
        try:
            raw = zlib.decompress(raw)
        except zlib.error as exc:
            raise ValueError(f"slice data is not zlib-compressed ({exc})") from exc
    wire = np.dtype(dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * wire.itemsize
    if len(raw) != expected:
        raise ValueError(f"slice data has {len(raw)} bytes; {dtype} {list(shape)} needs {expected}")
    return np.frombuffer(raw, dtype=wire).reshape(tuple(shape))
