"""Save and restore a Segmenter's work: labels, objects, prompts and settings in one ``.npz``.

The file holds two arrays and never a pickle (:mod:`.npz` refuses objects when reading):

- ``owner``: uint8 ``[X, Y, Z]`` (uint16 when an object id is above 255; version 2), 0 =
  background, else the object id (zlib-compressed by
  :func:`numpy.savez_compressed`); a lazy image's sparse owner map is stored as its chunks
  instead (version 3, :mod:`.sparse_owner`), so saving never makes it dense;
- ``meta``: a JSON text with the format tag and version, the image's shape, dtype and fingerprint,
  the object store's table (``objects``, ``active_object``, ``overlap``: see
  :meth:`~.objects.ObjectStore.export`), spacing, display window and the prompts record
  (``Prompt.to_dict`` / ``Command.to_dict``) with, since version 2, one stamp per record item
  (``stamps``: the object it acted on, its UTC submit time, whether it changed anything; see
  :class:`~.record.Stamp`), so a restored Segmenter has a complete prompt log. Version 1 files
  have no stamps: they load, and their ``prompt_log`` says that it cannot be built.

The state comes from :meth:`~.annotator.Annotator.snapshot` and goes back through
:meth:`~.annotator.Annotator.restore`; this module only turns it into a file and back.

Writes are atomic (:mod:`nni_jupyter.atomic`): a crash, an interrupt or a kill mid-write leaves the
previous file intact, and the next save removes what the killed write left; a read-only target is
refused, and files get the usual permissions (the umask's). The undo history is not stored: a
restored Segmenter starts with an empty one.

Reading trusts nothing: every array's ``.npy`` header is checked (against the image) before its data
are decompressed, and the whole file is checked before anything is built from it; every failure is
a ValueError that names the path and says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..volumes import SparseVolume
from ..windows import window_for
from . import npz, sparse_owner
from .inputs import check_spacing
from .objects import OWNER_DTYPES, check_state
from .prompts import item_from_dict
from .record import Stamp
from .runner import Snapshot

FORMAT = "nni_jupyter.segmentation"
VERSION = 3
#: The version written for a dense owner map (readable by nni_jupyter versions that read 2).
DENSE_VERSION = 2
#: The largest ``meta`` (JSON as numpy's UTF-32 text) written or read: far beyond any real
#: record, and a bound on what a hostile file can make a reader decompress.
MAX_META_BYTES = 256 << 20


_FINGERPRINT_SLAB_BYTES = 64 * 2**20


#: Images larger than this are fingerprinted from blocks spread through them, not every byte.
SAMPLED_FINGERPRINT_ABOVE = 1 << 30
#: Blocks per axis, and their edge, of a sampled fingerprint.
_SAMPLE_BLOCKS, _SAMPLE_EDGE = 4, 32
#: What starts a sampled fingerprint (a full one is plain hex).
SAMPLED_PREFIX = "sampled-"


def image_fingerprint(volume: np.ndarray) -> str:
    """Return a short BLAKE2 digest of the image's shape, dtype and bytes.

    An image above :data:`SAMPLED_FINGERPRINT_ABOVE` bytes (a large lazy one would take a minute
    to read whole) is hashed from a 4 x 4 x 4 grid of 32³ blocks spread through it, marked
    ``sampled-``: it tells images apart, but not every local edit of one image.
    """
    if volume.nbytes > SAMPLED_FINGERPRINT_ABOVE:
        return _sampled_fingerprint(volume)
    return _full_fingerprint(volume)


def _digest(volume: np.ndarray) -> Any:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{volume.shape}{volume.dtype.str}".encode())
    return digest


def _full_fingerprint(volume: np.ndarray) -> str:
    digest = _digest(volume)
    rows = max(1, _FINGERPRINT_SLAB_BYTES // max(1, volume[0:1].nbytes))
    for start in range(0, volume.shape[0], rows):  # slab by slab: lazy volumes stay on disk
        digest.update(np.ascontiguousarray(volume[start : start + rows]).data)
    return str(digest.hexdigest())


def _sampled_fingerprint(volume: np.ndarray) -> str:
    digest = _digest(volume)
    edge = _SAMPLE_EDGE
    # blocks start on multiples of the edge: each crosses few chunks of a lazy image
    starts = [
        (np.linspace(0, max(n - edge, 0), _SAMPLE_BLOCKS) // edge * edge).astype(int).tolist()
        for n in volume.shape
    ]
    for x in starts[0]:
        for y in starts[1]:
            for z in starts[2]:
                block = volume[x : x + edge, y : y + edge, z : z + edge]
                digest.update(np.ascontiguousarray(block).data)
    return SAMPLED_PREFIX + str(digest.hexdigest())


class ImageTag:
    """What a save file records of its image: the dtype, and a fingerprint hashed when first needed.

    Parameters
    ----------
    volume
        The ``[X, Y, Z]`` image the segmentation is made on (kept by reference, not copied).
    """

    def __init__(self, volume: np.ndarray):
        self._volume = volume
        self.dtype = volume.dtype.str

    @cached_property
    def fingerprint(self) -> str:
        """:func:`image_fingerprint` of the volume (hashing a large image takes a second: once)."""
        return image_fingerprint(self._volume)


def save(
    path: str | os.PathLike[str],
    snapshot: Snapshot,
    image: ImageTag,
    spacing_mm: Sequence[float],
    window: Sequence[float] | None,
) -> Path:
    """Write a Segmenter's state to ``path`` atomically; return the path.

    Parameters
    ----------
    snapshot
        The runner's state (:meth:`~.runner.Runner.snapshot`).
    image
        The image it was made on.
    spacing_mm, window
        The display settings to restore with it (``window`` None: none shown).

    Errors are those of :func:`nni_jupyter.atomic.write_atomic` (a read-only file or folder is
    refused and left as it was).
    """
    sparse = isinstance(snapshot.owner, SparseVolume)
    meta = {
        "format": FORMAT,
        "version": VERSION if sparse else DENSE_VERSION,
        "shape": list(snapshot.owner.shape),
        "image_dtype": image.dtype,
        "image_fingerprint": image.fingerprint,
        **snapshot.table,
        "spacing_mm": [float(v) for v in spacing_mm],
        "window": None if window is None else [float(v) for v in window],
        "prompts": [item.to_dict() for item in snapshot.record],
        "stamps": [stamp.to_dict() for stamp in snapshot.stamps or ()],
    }
    if isinstance(snapshot.owner, SparseVolume):  # a lazy image's labels: only stored chunks
        arrays, meta[sparse_owner.CHUNKS_KEY] = sparse_owner.pack(snapshot.owner)
        return write_atomic(Path(path), arrays, meta)
    return write_atomic(Path(path), {"owner": np.asarray(snapshot.owner)}, meta)


def snapshot_of(owner: np.ndarray | SparseVolume, meta: dict[str, Any]) -> Snapshot:
    """Return the annotator state held by a file's ``(owner, meta)``, checking all of it.

    The store's table lies at the top level of ``meta`` and is checked by the store's own rules
    (:func:`~.objects.check_state`); the settings as the Segmenter checks them. A uint8 owner
    map whose table holds an object id above 255 is widened to uint16.

    Raises
    ------
    ValueError
        When an object, the active object, the overlap policy, a prompt record, the spacing or
        the window is invalid, saying which and what was expected.
    """
    owner = _wide_enough(owner, check_state(owner, meta, owner.shape).objects)
    for key, check in (("spacing_mm", check_spacing), ("window", window_for)):
        if meta.get(key) is not None:
            try:
                check(meta[key])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"its {key} is invalid: {exc}") from exc
    prompts = meta.get("prompts", [])
    if not isinstance(prompts, list):
        raise ValueError(f"its prompts must be a list of records; got {type(prompts).__name__}")
    records = []
    for index, item in enumerate(prompts):
        try:
            records.append(item_from_dict(item))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(
                f"prompts[{index}] is not a Prompt.to_dict or Command.to_dict record: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return Snapshot(owner, meta, tuple(records), _stamps_of(meta, len(records)))


def _wide_enough(owner: Any, objects: dict[int, Any]) -> Any:
    """``owner`` widened to uint16 when an object's id does not fit its dtype (a uint8 map
    with object 300): every later prompt of that object would overflow it."""
    largest = max(objects, default=0)
    if largest <= np.iinfo(owner.dtype).max:
        return owner
    return owner.astype(np.uint16)


def _stamps_of(meta: dict[str, Any], count: int) -> tuple[Stamp, ...] | None:
    """The record's stamps (None for a version 1 file, which has none)."""
    if meta.get("version") == 1:
        return None
    stamps = meta.get("stamps")
    if not isinstance(stamps, list) or len(stamps) != count:
        got = f"{len(stamps)} stamps" if isinstance(stamps, list) else repr(stamps)[:80]
        raise ValueError(f"its stamps must be a list of {count} (one per prompt); got {got}")
    parsed = []
    for index, stamp in enumerate(stamps):
        try:
            parsed.append(Stamp.from_dict(stamp))
        except ValueError as exc:
            raise ValueError(f"its stamps[{index}] is invalid: {exc}") from exc
    return tuple(parsed)


def write_atomic(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Write ``arrays`` (the owner map's) and ``meta`` to ``path`` with
    :func:`nni_jupyter.atomic.write_atomic`.

    Raises
    ------
    PermissionError
        When ``path`` is a read-only file.
    ValueError
        When ``meta`` is larger than :data:`MAX_META_BYTES` (it could not be read back).
    """
    text = np.array(json.dumps(meta))
    if text.nbytes > MAX_META_BYTES:
        raise ValueError(
            f"the record to save takes {text.nbytes} bytes; a save file holds at most "
            f"{MAX_META_BYTES} (save the labels alone with nni_jupyter.io.write_labels)"
        )
    members: dict[str, Any] = {**arrays, "meta": text}
    return atomic.write_atomic(path, lambda handle: np.savez_compressed(handle, **members))


class _Foreign(ValueError):
    """The file is not an nni_jupyter segmentation file at all."""


def read(
    path: str | os.PathLike[str], shape: Sequence[int] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Read ``(owner, meta)`` from a file written by :func:`save`, checking all of it.

    No pickle is ever loaded, and no array is decompressed before its header was checked:
    against ``shape`` (the image's ``(X, Y, Z)``) when given, else against the file's own.

    Raises
    ------
    ValueError
        Naming the path and what is wrong: not a segmentation file (another format, truncated),
        damaged data, a newer or malformed format version, another image's shape, or invalid
        content (see :func:`snapshot_of`).
    """
    snapshot = read_snapshot(path, shape)
    return np.asarray(snapshot.owner), snapshot.table


def load(path: str | os.PathLike[str], volume: np.ndarray, strict: bool) -> Snapshot:
    """Read and check the whole file for ``volume`` (``[X, Y, Z]``) before anything is built.

    ``strict`` also requires the image's fingerprint to match (see :func:`check_image`).

    Raises
    ------
    ValueError
        As :func:`read`, or when the file was saved for another image.
    """
    snapshot = read_snapshot(path, volume.shape)
    check_image(snapshot.table, volume, path, strict)
    return snapshot


def read_snapshot(path: str | os.PathLike[str], shape: Sequence[int] | None = None) -> Snapshot:
    """Read a file written by :func:`save` as a :class:`~.annotator.Snapshot` (see :func:`read`)."""
    path = Path(path).expanduser()
    try:
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise _Foreign(
                "it is not a zip archive, as every .npz is (truncated, or another kind of file)"
            ) from exc
        with archive:
            meta = _read_meta(archive)
            expected = _shape_of(meta)
            if shape is not None and tuple(shape) != expected:
                raise ValueError(
                    f"it was saved for an image of shape {expected}; got an image of shape "
                    f"{tuple(shape)}. Pass the image the segmentation was made on."
                )
            owner: np.ndarray | SparseVolume
            if sparse_owner.CHUNKS_KEY in meta:
                if meta["version"] < 3:
                    raise ValueError(
                        f"its meta names {sparse_owner.CHUNKS_KEY}, which version 3 files hold; "
                        f"it says version {meta['version']}"
                    )
                owner = sparse_owner.unpack(archive, meta, expected)
            else:
                owner = npz.read_array(archive, "owner", _labels_of(expected))
        return snapshot_of(owner, meta)
    except _Foreign as exc:
        raise ValueError(
            f"{path} is not an nni_jupyter segmentation file (expected an .npz written by "
            f"Segmenter.save): {exc}"
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ValueError(
            f"{path} is damaged: its data do not decompress or fail their checksum "
            f"({type(exc).__name__}: {exc}); restore it from a copy"
        ) from exc
    except ValueError as exc:
        raise ValueError(f"{path} cannot be restored: {exc}") from exc


def _read_meta(archive: zipfile.ZipFile) -> dict[str, Any]:
    def expect(shape: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype.kind != "U" or shape != ():
            raise ValueError(f"its meta array is {dtype} {shape}; expected a JSON text")
        if dtype.itemsize > MAX_META_BYTES:
            raise ValueError(
                f"its meta text takes {dtype.itemsize} bytes; a save file holds at most "
                f"{MAX_META_BYTES}"
            )

    try:
        meta = json.loads(str(npz.read_array(archive, "meta", expect)[()]))
    except (ValueError, RecursionError) as exc:
        raise _Foreign(exc) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _Foreign("format tag missing")
    version = meta.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ValueError(
            f"it was written by a newer nni_jupyter (format version {version}; this one reads "
            f"up to {VERSION}); upgrade nni_jupyter"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"its format version must be an integer 1..{VERSION}; got {version!r}")
    return meta


def _shape_of(meta: dict[str, Any]) -> tuple[int, int, int]:
    shape = meta.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 3
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(f"its shape must be 3 positive integers [X, Y, Z]; got {shape!r}")
    return tuple(shape)


def _labels_of(shape: tuple[int, int, int]) -> npz.Expect:
    def expect(found: tuple[int, ...], dtype: np.dtype) -> None:
        if dtype not in OWNER_DTYPES or tuple(found) != shape:
            raise ValueError(
                f"its owner array (the labels) must be uint8 or uint16 of shape {shape}; got "
                f"{dtype} {tuple(found)}"
            )

    return expect


def check_image(meta: dict[str, Any], volume: np.ndarray, path: Any, strict: bool) -> None:
    """Raise ValueError when ``strict`` and ``volume``'s intensities are not those the file was
    saved with (its shape was checked on reading)."""
    if not strict:
        return
    saved = meta.get("image_fingerprint")
    found = image_fingerprint(volume)
    if found.startswith(SAMPLED_PREFIX) and not str(saved).startswith(SAMPLED_PREFIX):
        found = _full_fingerprint(volume)  # a large image saved before sampling existed
    if saved != found:
        raise ValueError(
            f"{path} was saved for a different image (same shape, other intensities). Pass the "
            "image the segmentation was made on, or check_image=False to restore it anyway."
        )
