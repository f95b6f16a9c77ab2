"""Save and restore a Segmenter's work: labels, objects, prompts and settings in one ``.npz``.

The file holds two arrays and never a pickle (it is read with ``allow_pickle=False``):

- ``owner``: uint8 ``[X, Y, Z]``, 0 = background, else the object id (zlib-compressed by
  :func:`numpy.savez_compressed`);
- ``meta``: a JSON text with the format tag and version, the image's shape, dtype and fingerprint,
  the object table, the active object, the overlap policy, spacing, display window and the
  prompts record (``Prompt.to_dict`` / ``Command.to_dict``).

Writes are atomic: a temporary file in the same folder is written, flushed, fsynced and then
renamed over the target (:func:`os.replace`), so a crash or an interrupt mid-write leaves the
previous file intact. The undo history is not stored: a restored Segmenter starts with an empty one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .objects import ObjectInfo
from .prompts import item_from_dict

FORMAT = "nni_jupyter.segmentation"
VERSION = 1


def image_fingerprint(volume: np.ndarray) -> str:
    """Return a short BLAKE2 digest of the image's shape, dtype and bytes."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{volume.shape}{volume.dtype.str}".encode())
    digest.update(np.ascontiguousarray(volume).data)
    return digest.hexdigest()


def _cached_fingerprint(seg: Any) -> str:
    # hashing a large image takes a second: once per Segmenter
    if getattr(seg, "_fingerprint", None) is None:
        seg._fingerprint = image_fingerprint(seg._volume)
    return seg._fingerprint


def snapshot(seg: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Return ``(owner copy, meta)`` of a Segmenter, taken under its annotator's lock."""
    annotator = seg._annotator
    with annotator.lock:
        store = annotator.store
        owner = store.owner.copy()
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "shape": list(store.shape),
            "image_dtype": seg._volume.dtype.str,
            "image_fingerprint": _cached_fingerprint(seg),
            "objects": [
                {
                    "id": info.id,
                    "name": info.name,
                    "color": list(info.color),
                    "class_id": info.class_id,
                    "visible": info.visible,
                }
                for info in store.objects.values()
            ],
            "active_object": store.active,
            "overlap": store.overlap,
            "spacing_mm": list(seg.spacing_mm),
            "window": list(seg.window),
            "prompts": [item.to_dict() for item in annotator.record],
        }
    return owner, meta


def save(seg: Any, path: str | os.PathLike) -> Path:
    """Write a Segmenter's state to ``path`` atomically; return the path.

    Raises
    ------
    OSError
        When the folder is not writable; the previous file, if any, is left as it was.
    """
    owner, meta = snapshot(seg)
    return write_atomic(Path(path), owner, meta)


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


def read(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
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


def restore(seg: Any, owner: np.ndarray, meta: dict[str, Any]) -> None:
    """Put a saved state into a new Segmenter (worker idle); re-seed the session with it."""
    annotator = seg._annotator
    objects = {
        int(item["id"]): ObjectInfo(
            id=int(item["id"]),
            name=str(item["name"]),
            color=tuple(int(c) for c in item["color"]),
            class_id=int(item["class_id"]),
            visible=bool(item.get("visible", True)),
        )
        for item in meta["objects"]
    }
    active = int(meta["active_object"])
    unknown = set(np.unique(owner).tolist()) - set(objects) - {0}
    if active not in objects or unknown:
        raise ValueError(
            f"the saved state is inconsistent: active object {active}, objects {sorted(objects)}, "
            f"label values without an object {sorted(unknown)}"
        )
    records = [item_from_dict(item) for item in meta.get("prompts", [])]
    counts = np.bincount(owner.ravel(), minlength=256)
    with annotator.lock:
        store = annotator.store
        store.owner[...] = owner
        store.objects = objects
        store.voxels = {i: int(counts[i]) for i in objects}
        store.active = active
        store.set_overlap(meta.get("overlap", store.overlap))
        annotator.record[:] = records
        mask = store.mask()
    if mask.any():
        annotator.session.add_initial_seg_interaction(mask, run_prediction=False)
    with seg._internal_update():
        seg.objects = annotator.objects_state()
        seg.active_object = active
        seg.overlap = store.overlap
        if meta.get("window"):
            seg.window = [float(v) for v in meta["window"]]
    seg.labels_version += 1
