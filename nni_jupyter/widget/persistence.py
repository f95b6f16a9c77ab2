"""Save and restore a Segmenter's work: labels, objects, prompts and settings in one ``.npz``.

The file holds two arrays and never a pickle (it is read with ``allow_pickle=False``):

- ``owner``: uint8 ``[X, Y, Z]``, 0 = background, else the object id (zlib-compressed by
  :func:`numpy.savez_compressed`);
- ``meta``: a JSON text with the format tag and version, the image's shape, dtype and fingerprint,
  the object store's table (``objects``, ``active_object``, ``overlap``: see
  :meth:`~.objects.ObjectStore.export`), spacing, display window and the prompts record
  (``Prompt.to_dict`` / ``Command.to_dict``).

The state comes from :meth:`~.annotator.Annotator.snapshot` and goes back through
:meth:`~.annotator.Annotator.restore`; this module only turns it into a file and back.

Writes are atomic: a temporary file in the same folder is written, flushed, fsynced and then
renamed over the target (:func:`os.replace`), so a crash or an interrupt mid-write leaves the
previous file intact. The undo history is not stored: a restored Segmenter starts with an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .annotator import Snapshot
from .prompts import item_from_dict

FORMAT = "nni_jupyter.segmentation"
VERSION = 1


def image_fingerprint(volume: np.ndarray) -> str:
    """Return a short BLAKE2 digest of the image's shape, dtype and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{volume.shape}{volume.dtype.str}".encode())
    digest.update(np.ascontiguousarray(volume).data)
    return digest.hexdigest()


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
    window: Sequence[float],
) -> Path:
    """Write a Segmenter's state to ``path`` atomically; return the path.

    Parameters
    ----------
    snapshot
        The annotator's state (:meth:`~.annotator.Annotator.snapshot`).
    image
        The image it was made on.
    spacing_mm, window
        The display settings to restore with it.

    Raises
    ------
    OSError
        When the folder is not writable; the previous file, if any, is left as it was.
    """
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "shape": list(snapshot.owner.shape),
        "image_dtype": image.dtype,
        "image_fingerprint": image.fingerprint,
        **snapshot.table,
        "spacing_mm": [float(v) for v in spacing_mm],
        "window": [float(v) for v in window],
        "prompts": [item.to_dict() for item in snapshot.record],
    }
    return write_atomic(Path(path), snapshot.owner, meta)


def snapshot_of(owner: np.ndarray, meta: dict[str, Any]) -> Snapshot:
    """Return the annotator state held by a file's ``(owner, meta)`` (from :func:`read`).

    The store's table lies at the top level of ``meta``; the store reads its own keys from it.
    """
    records = tuple(item_from_dict(item) for item in meta.get("prompts", []))
    return Snapshot(owner, meta, records)


def write_atomic(path: Path, owner: np.ndarray, meta: dict[str, Any]) -> Path:
    """Write ``owner`` and ``meta`` to ``path`` via a fsynced temporary file and a rename."""
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, owner=owner, meta=np.array(json.dumps(meta)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def _fsync_folder(folder: Path) -> None:
    # makes the rename itself durable; not possible on every platform (Windows)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read ``(owner, meta)`` from a file written by :func:`save` (no pickle is ever loaded).

    Raises
    ------
    ValueError
        When the file is not an nni_jupyter segmentation, or its version is newer than this one.
    """
    try:
        with np.load(Path(path).expanduser(), allow_pickle=False) as data:
            owner = np.array(data["owner"])
            meta = json.loads(str(data["meta"]))
    except (KeyError, ValueError, OSError, json.JSONDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(
            f"{path} is not an nni_jupyter segmentation file (expected an .npz written by "
            f"Segmenter.save): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an nni_jupyter segmentation file (format tag missing)")
    if meta.get("version", 0) > VERSION:
        raise ValueError(
            f"{path} was written by a newer nni_jupyter (format version {meta['version']}; this "
            f"one reads up to {VERSION}); upgrade nni_jupyter"
        )
    if owner.dtype != np.uint8 or list(owner.shape) != list(meta.get("shape", [])):
        raise ValueError(
            f"{path}: labels must be uint8 of shape {meta.get('shape')}; got {owner.dtype} "
            f"{owner.shape}"
        )
    return owner, meta


def check_image(meta: dict[str, Any], volume: np.ndarray, path: Any, strict: bool) -> None:
    """Raise ValueError when ``volume`` is not the image the file was saved with."""
    if list(volume.shape) != list(meta["shape"]):
        raise ValueError(
            f"{path} was saved for an image of shape {tuple(meta['shape'])}; got an image of "
            f"shape {volume.shape}. Pass the image the segmentation was made on."
        )
    if strict and meta.get("image_fingerprint") != image_fingerprint(volume):
        raise ValueError(
            f"{path} was saved for a different image (same shape, other intensities). Pass the "
            "image the segmentation was made on, or check_image=False to restore it anyway."
        )
