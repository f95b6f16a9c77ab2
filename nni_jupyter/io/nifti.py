"""Check a NIfTI file's header claims against the file before any voxel is read.

SimpleITK (through the nifti library) reads a file that ends early without an error, the missing
voxels as zeros, and allocates whatever the header claims. This module reads the header's own
fields (NIfTI-1: 348 bytes, NIfTI-2: 540 bytes, either byte order) and compares the bytes it
claims, ``vox_offset + prod(dim) * bitpix / 8``, with the bytes the file holds: the file's size
for ``.nii``; for ``.nii.gz`` the gzip trailer's size field (the data size modulo 2**32) when it
matches, else the length of the decompressed stream, counted without keeping it.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Claim:
    """What a NIfTI header says the file holds."""

    dims: tuple[int, ...]
    bitpix: int
    vox_offset: int
    declared: tuple[int, ...] = ()  # the header's own sizes, before 0 is read as 1

    @property
    def data_bytes(self) -> int:
        """Bytes of voxel data the header claims."""
        voxels = int(np.prod(self.dims, dtype=object))
        return (voxels * self.bitpix + 7) // 8

    @property
    def total_bytes(self) -> int:
        """Bytes the file must hold: header and extensions, then the voxel data."""
        return self.vox_offset + self.data_bytes

    def describe(self) -> str:
        """``"1024x1024x1024 voxels of 16 bits"``."""
        return f"{'x'.join(map(str, self.dims))} voxels of {self.bitpix} bits"


def is_nifti(path: Path) -> bool:
    """Whether ``path`` names a single-file NIfTI (``.nii`` or ``.nii.gz``)."""
    return path.name.lower().endswith((".nii", ".nii.gz"))


def _parse_header(raw: bytes) -> Claim | None:
    for order in "<>":
        if len(raw) >= 348 and struct.unpack_from(order + "i", raw, 0)[0] == 348:
            if raw[344:347] != b"n+1":
                return None
            dim = struct.unpack_from(order + "8h", raw, 40)
            bitpix = struct.unpack_from(order + "h", raw, 72)[0]
            vox_offset = int(struct.unpack_from(order + "f", raw, 108)[0])
            return _claim(dim, bitpix, max(vox_offset, 348))
        if len(raw) >= 540 and struct.unpack_from(order + "i", raw, 0)[0] == 540:
            if raw[4:7] != b"n+2":
                return None
            bitpix = struct.unpack_from(order + "h", raw, 14)[0]
            dim = struct.unpack_from(order + "8q", raw, 16)
            vox_offset = struct.unpack_from(order + "q", raw, 168)[0]
            return _claim(dim, bitpix, max(vox_offset, 540))
    return None


def _claim(dim: tuple[int, ...], bitpix: int, vox_offset: int) -> Claim | None:
    rank = dim[0]
    if not 1 <= rank <= 7 or bitpix <= 0:
        return None  # not a header we can read; SimpleITK will say what is wrong
    declared = tuple(int(d) for d in dim[1 : rank + 1])
    # the nifti library reads a dimension of 0 as 1
    return Claim(tuple(max(d, 1) for d in declared), int(bitpix), int(vox_offset), declared)


def read_claim(path: Path) -> Claim | None:
    """The header's claim, or None when ``path`` holds no NIfTI-1/2 single-file header."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read(540)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a readable NIfTI file: {error}") from error
    return _parse_header(raw)


def _gzip_holds(path: Path, needed: int) -> int:
    """Decompressed bytes of ``path`` up to ``needed`` (fewer means the stream ends early)."""
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        if struct.unpack("<I", handle.read(4))[0] == needed % (1 << 32):
            return needed
        handle.seek(0)
        total, stream = 0, zlib.decompressobj(zlib.MAX_WBITS | 32)
        while total < needed:
            chunk = stream.unconsumed_tail or handle.read(_CHUNK)
            if not chunk:
                break
            try:
                total += len(stream.decompress(chunk, _CHUNK))
            except zlib.error as error:
                raise ValueError(f"{path} is a corrupt gzip stream: {error}") from error
            if stream.eof and stream.unused_data:  # a further gzip member
                rest = stream.unused_data
                stream = zlib.decompressobj(zlib.MAX_WBITS | 32)
                total += len(stream.decompress(rest, _CHUNK))
    return total


def check_complete(path: Path) -> Claim | None:
    """Raise ValueError when ``path`` holds fewer bytes than its NIfTI header claims, or the
    header declares a negative size.

    Returns the claim (None for files that are not single-file NIfTI).
    """
    claim = read_claim(path)
    if claim is None:
        return None
    negative = [(axis, d) for axis, d in enumerate(claim.declared, start=1) if d < 0]
    if negative:
        axis, size = negative[0]
        raise ValueError(
            f"{path} has a damaged header: dim[{axis}] = {size}, and a size cannot be negative "
            f"(sizes {list(claim.declared)}). Write the file again with a NIfTI writer"
        )
    gzipped = path.name.lower().endswith(".gz")
    held = _gzip_holds(path, claim.total_bytes) if gzipped else path.stat().st_size
    if held < claim.total_bytes:
        what = "decompresses to" if gzipped else "holds"
        raise ValueError(
            f"{path} is truncated or its header is wrong: the header claims {claim.describe()} "
            f"({claim.total_bytes:,} bytes with the header) but the file {what} only "
            f"{held:,} bytes. Copy or download the file again; a file cut short would read "
            "with its missing part as zeros"
        )
    return claim
