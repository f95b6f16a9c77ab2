"""Check that a NRRD or MetaImage file can hold the voxels its header claims, before reading.

SimpleITK allocates the whole image its header claims before it finds that the data end early,
so a 33 KB file claiming 1024³ voxels costs gigabytes. Here the header's own text is read (a few
KB): where the data are stored raw they must be at least as many bytes as claimed; where they
are zlib/gzip-compressed, deflate cannot shrink data more than :data:`ZLIB_MAX_RATIO` to 1, so
fewer stored bytes than ``claimed / ZLIB_MAX_RATIO`` cannot hold the image. NIfTI has its own
exact check (:mod:`.nifti`). Data split over several files (lists, patterns) and bzip2 data are
left to the memory check alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Deflate's largest possible compression ratio (a stream of one repeated byte).
ZLIB_MAX_RATIO = 1032
#: Header text read at most (headers are a few hundred bytes).
_HEADER_BYTES = 1 << 16


@dataclass(frozen=True)
class Stored:
    """Where a file's voxel data lie: the data file, their first byte, how they are encoded."""

    data_file: Path
    offset: int
    encoding: str  # "raw", "zlib", "text" or "other"


def check_stored_size(path: Path, voxels: int, voxel_bytes: int, what: str) -> None:
    """Raise ValueError when ``path`` (NRRD or MetaImage) cannot hold the ``voxels`` of
    ``voxel_bytes`` each that its header claims; other formats pass.

    ``what`` describes the claim for the message (``"1024x1024x1024 voxels of 1 bytes"``).
    """
    claimed_bytes = voxels * voxel_bytes
    stored = _stored(path)
    if stored is None or stored.encoding == "other":
        return
    try:
        held = stored.data_file.stat().st_size - stored.offset
    except OSError as error:
        raise ValueError(
            f"{path}: its header names the data file {stored.data_file}, which cannot be read "
            f"({error}); put the data file beside the header"
        ) from error
    needed = {
        "raw": claimed_bytes,
        "zlib": -(-claimed_bytes // ZLIB_MAX_RATIO),
        "text": 2 * voxels - 1,  # a value takes a digit, and a separator before the next
    }[stored.encoding]
    if held < needed:
        how = "compressed " if stored.encoding == "zlib" else ""
        raise ValueError(
            f"{path} is truncated or its header is wrong: the header claims {what} "
            f"({claimed_bytes:,} bytes) but the file holds {max(held, 0):,} bytes of "
            f"{how}data{', which cannot decompress to that much' if how else ''}. Copy or "
            "download the file again"
        )


def _stored(path: Path) -> Stored | None:
    name = path.name.lower()
    if name.endswith((".nrrd", ".nhdr")):
        return _nrrd(path)
    if name.endswith((".mha", ".mhd")):
        return _metaimage(path)
    return None


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_HEADER_BYTES)


def _nrrd(path: Path) -> Stored | None:
    head = _head(path)
    if not head.startswith(b"NRRD"):
        return None
    end = min((i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n")) if i >= 0), default=-1)
    if end < 0:
        return None
    offset = end + (2 if head[end : end + 2] == b"\n\n" else 4)
    fields = {}
    for line in head[:end].decode("latin-1").splitlines()[1:]:
        if line.startswith("#") or ":=" in line or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    if fields.get("byte skip", "0") != "0" or fields.get("line skip", "0") != "0":
        return None  # data start elsewhere: left to SimpleITK
    encoding = {"raw": "raw", "gzip": "zlib", "gz": "zlib", "ascii": "text", "txt": "text"}.get(
        fields.get("encoding", "").lower(), "other"
    )
    detached = fields.get("data file") or fields.get("datafile")
    if detached is None:
        return Stored(path, offset, encoding)
    if " " in detached or detached.upper().startswith("LIST"):
        return None  # several data files
    return Stored(path.parent / detached, 0, encoding)


def _metaimage(path: Path) -> Stored | None:
    head = _head(path)
    fields, offset = {}, 0
    for line in head.split(b"\n"):
        offset += len(line) + 1
        key, _, value = line.decode("latin-1").partition("=")
        fields[key.strip().lower()] = value.strip()
        if key.strip().lower() == "elementdatafile":
            break
    else:
        return None  # no data file named in the header we read
    data = fields["elementdatafile"]
    compressed = fields.get("compresseddata", "false").lower() == "true"
    encoding = "zlib" if compressed else "raw"
    if fields.get("headersize", "0") not in ("0", ""):
        return None  # data start elsewhere: left to SimpleITK
    if data.upper() == "LOCAL":
        return Stored(path, offset, encoding)
    if data.upper().startswith("LIST") or "%" in data or " " in data:
        return None  # several data files
    return Stored(path.parent / data, 0, encoding)
