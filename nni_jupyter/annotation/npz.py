"""Read arrays from an ``.npz`` without trusting it: each header is checked before its data.

An ``.npz`` is a zip of ``.npy`` members; a small, highly compressed member can claim gigabytes.
:func:`read_array` reads a member's ``.npy`` header first (a few hundred bytes decompressed), lets
the caller refuse its shape and dtype, checks that the zip entry holds exactly what the header
implies, and only then decompresses the data. Objects (pickles) are always refused.
"""

from __future__ import annotations

import math
import tokenize
import zipfile
from collections.abc import Callable
from typing import cast

import numpy as np
from numpy.lib import format as npy

#: ``expect(shape, dtype)`` raises ValueError when the caller does not want such an array.
Expect = Callable[[tuple[int, ...], np.dtype], None]

_HEADER_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def read_array(archive: zipfile.ZipFile, name: str, expect: Expect) -> np.ndarray:
    """Read the array ``name`` (member ``name.npy``), checking its header before its data.

    Raises
    ------
    ValueError
        When the member is missing, its header is malformed, holds objects or is refused by
        ``expect``, or the entry's size differs from what the header implies.
    zipfile.BadZipFile, zlib.error, EOFError
        When the data are damaged (checksum, compression) or end early.
    """
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        held = ", ".join(n.removesuffix(".npy") for n in archive.namelist()) or "nothing"
        raise ValueError(f"it has no {name!r} array (it holds {held})") from None
    # typeshed says IO[bytes]; ZipFile.open in read mode returns a ZipExtFile, which has readinto
    with cast(zipfile.ZipExtFile, archive.open(info)) as member:
        shape, fortran_order, dtype = _read_header(member, name)
        expect(shape, dtype)
        count = math.prod(shape) * dtype.itemsize
        implied = member.tell() + count
        if info.file_size != implied:
            raise ValueError(
                f"the {name} array's zip entry holds {info.file_size} bytes; its header "
                f"({shape} {dtype}) implies {implied} bytes"
            )
        data = _read_exactly(member, count, name)
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")


def _read_header(member: zipfile.ZipExtFile, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy.read_magic(member)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f".npy format version {version}; expected 1.0 or 2.0")
        shape, fortran_order, dtype = reader(member)
    # numpy parses the header as a Python literal: garbage may raise any of these
    except (ValueError, SyntaxError, tokenize.TokenError) as exc:
        raise ValueError(
            f"the {name} array's .npy header is unreadable (damaged, or not written by numpy): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if dtype.hasobject:
        raise ValueError(f"the {name} array holds Python objects (a pickle), which are never read")
    return shape, fortran_order, dtype


def _read_exactly(member: zipfile.ZipExtFile, count: int, name: str) -> bytearray:
    data = bytearray(count)
    view = memoryview(data)
    filled = 0
    while filled < count:
        got = member.readinto(view[filled:])
        if not got:
            raise EOFError(f"the {name} array ends after {filled} of {count} bytes")
        filled += got
    return data
