"""OME-Zarr: the image plus a ``labels/<name>`` group with colours and properties (ome-zarr-py).

Axis order: nni_jupyter arrays are ``[X, Y, Z]``; OME-Zarr orders spatial axes ``(z, y, x)``, so
both arrays are written transposed, ``array.transpose(2, 1, 0)``, and ``scale``/``translation``
are ``(spacing_z, spacing_y, spacing_x)`` and ``(origin_z, origin_y, origin_x)`` in millimetres.
Reading back, ``data.transpose(2, 1, 0)`` is the ``[X, Y, Z]`` array again. OME-Zarr 0.5 has no
rotation, so an image whose direction is not the identity is refused rather than misplaced.

Labels of a lazy image are a :class:`~nni_jupyter.volumes.SparseVolume`: they are written chunk
by chunk (through a Dask array for ome-zarr-py, directly for a plain Zarr array), so the whole
map is never in memory, and chunks without labels are not stored.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image
from ..volumes.ome_zarr import levels
from ..volumes.sparse import SparseVolume
from .segments import PerObject, check_labels, require, segments

#: The OME-Zarr axes nni_jupyter writes, in the order the arrays are stored.
AXES = [{"name": name, "type": "space", "unit": "millimeter"} for name in "zyx"]


def _geometry(image: Any, spacing_mm: Sequence[float] | None) -> tuple[np.ndarray, list, list]:
    """The image ``[X, Y, Z]``, and its scale and translation in OME-Zarr's (z, y, x) order."""
    if isinstance(image, Image):
        if not np.allclose(image.direction, np.eye(3)):
            raise ValueError(
                "OME-Zarr has no rotation, and this image's direction is not the identity "
                f"({image.direction.round(4).tolist()}); write DICOM-SEG or NIfTI to keep it"
            )
        array, origin = image.array, image.origin_mm
        spacing = image.spacing_mm if spacing_mm is None else spacing_mm
    else:
        array, origin = np.asarray(image), (0.0, 0.0, 0.0)
        spacing = (1.0, 1.0, 1.0) if spacing_mm is None else spacing_mm
    if array.ndim != 3 or len(spacing) != 3:
        raise ValueError(
            f"expected a 3-D [X, Y, Z] image and 3 spacings; got shape {array.shape}, "
            f"spacing {spacing}"
        )
    return array, [float(v) for v in spacing[::-1]], [float(v) for v in origin[::-1]]


def write_ome_zarr(
    image: Image | np.ndarray,
    labels: Any,
    path: str | Path,
    names: PerObject[str] = None,
    colors: PerObject[Sequence[int]] = None,
    class_ids: PerObject[int] = None,
    spacing_mm: Sequence[float] | None = None,
    label_name: str = "labels",
) -> Path:
    """Write ``image`` and its label map as OME-Zarr, with ``labels/<label_name>``.

    Parameters
    ----------
    image
        An :class:`nni_jupyter.Image` (its spacing and origin become ``scale`` and
        ``translation``) or an ``[X, Y, Z]`` array.
    labels
        Label map ``[X, Y, Z]`` on the image's grid: 0 = background, 1..65535 = objects (uint16).
    path
        The ``.zarr`` folder; an existing one is replaced once the new one is complete.
    names, colors, class_ids
        Per object: ``{label: value}`` or one value per label in order. They become the
        ``image-label`` ``colors`` (RGBA 0..255) and ``properties`` (``name``, ``class_id``).
    spacing_mm
        Voxel size ``(x, y, z)`` in mm; default the image's (or 1 mm for an array).
    label_name
        Name of the label image under ``labels/``.

    Returns
    -------
    Path
        The folder written.
    """
    zarr, writer = require("zarr", "zarr", "ome_zarr.writer")
    array, scale, translation = _geometry(image, spacing_mm)
    labels = check_labels(labels)
    if labels.shape != array.shape:
        raise ValueError(f"labels shape {labels.shape} differs from the image's {array.shape}")
    metadata = _label_metadata(segments(labels, names, class_ids, colors))
    transforms = _transforms(scale, translation)

    def write(staged: Path) -> None:
        root = zarr.open_group(str(staged), mode="w")
        with warnings.catch_warnings():
            # the replacement, ``scale=``, cannot say where the origin is
            warnings.filterwarnings(
                "ignore", "The 'coordinate_transformations'", DeprecationWarning
            )
            writer.write_multiscale(
                [array.transpose(2, 1, 0)], root, axes=AXES, coordinate_transformations=transforms
            )
            writer.write_multiscale_labels(
                [labels.transpose(2, 1, 0)],
                root,
                name=label_name,
                axes=AXES,
                coordinate_transformations=transforms,
                label_metadata=metadata,
            )

    return _replace_folder(Path(path).expanduser(), write)


def _label_metadata(found: Sequence[Any]) -> dict[str, Any]:
    """The ``image-label`` metadata of the segments: colours and properties."""
    return {
        "colors": [{"label-value": s.label, "rgba": [*s.color, 255]} for s in found],
        "properties": [
            {"label-value": s.label, "name": s.name, "class_id": s.class_id} for s in found
        ],
    }


def _transforms(scale: Sequence[float], translation: Sequence[float]) -> list[list[dict]]:
    """One level's coordinate transformations, ``(z, y, x)`` scale and translation in mm."""
    return [
        [
            {"type": "scale", "scale": list(scale)},
            {"type": "translation", "translation": list(translation)},
        ]
    ]


def _replace_folder(path: Path, write: Callable[[Path], None]) -> Path:
    """Write a folder next to ``path`` and swap it in, so no reader sees a half-written store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        write(staging / path.name)
        old = staging / "old"
        if path.exists():
            os.replace(path, old)
        try:
            os.replace(staging / path.name, path)
        except BaseException:
            if old.exists():
                os.replace(old, path)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def add_ome_zarr_labels(
    path: str | Path,
    labels: Any,
    names: PerObject[str] = None,
    colors: PerObject[Sequence[int]] = None,
    class_ids: PerObject[int] = None,
    level: int = 0,
    label_name: str = "labels",
) -> Path:
    """Write ``labels`` into the existing OME-Zarr image at ``path`` as ``labels/<label_name>``.

    The image is left untouched (nothing is read from it but its metadata): use this for images
    opened lazily from OME-Zarr. The labels get the ``scale`` and ``translation`` of resolution
    ``level``, the one they were made on. The new labels are written under a staging name and
    swapped in, so readers never see half of them.
    """
    zarr, writer = require("zarr", "zarr", "ome_zarr.writer")

    folder = Path(path).expanduser()
    found = levels(folder)
    if not 0 <= level < len(found):
        raise ValueError(f"{folder} has resolution levels 0..{len(found) - 1}; got level {level}")
    chosen = found[level]
    if tuple(labels.shape) != chosen.shape:
        raise ValueError(
            f"labels shape {tuple(labels.shape)} differs from level {level}'s {chosen.shape}"
        )
    checked, zyx, storage = _zyx_level(labels)
    metadata = _label_metadata(segments(checked, names, class_ids, colors))
    transforms = _transforms(list(chosen.spacing_mm[::-1]), list(chosen.origin_mm[::-1]))
    staging = f".{label_name}.staging"
    root = zarr.open_group(str(folder), mode="r+")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The 'coordinate_transformations'", DeprecationWarning)
        writer.write_multiscale_labels(
            [zyx],
            root,
            name=staging,
            axes=AXES,
            coordinate_transformations=transforms,
            storage_options=storage,
            label_metadata=metadata,
        )
    _swap_in(folder / "labels", staging, label_name)
    group = zarr.open_group(str(folder / "labels"), mode="r+")
    attrs = dict(group.attrs)
    holder = attrs["ome"] if "ome" in attrs else attrs
    holder["labels"] = sorted({label_name, *holder.get("labels", [])} - {staging})
    group.attrs.update(attrs)
    return folder


def _swap_in(labels: Path, staging: str, name: str) -> None:
    old = labels / f".{name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if (labels / name).exists():
        os.replace(labels / name, old)
    os.replace(labels / staging, labels / name)
    shutil.rmtree(old, ignore_errors=True)


def _zyx_level(labels: Any) -> tuple[np.ndarray | SparseVolume, Any, dict[str, Any] | None]:
    """``labels`` checked, the array ome-zarr-py writes (``(z, y, x)``) and its storage options:
    a SparseVolume is read chunk by chunk through a Dask array (chunks of two sparse chunks per
    axis); anything else is made dense."""
    if not isinstance(labels, SparseVolume):
        dense = check_labels(np.asarray(labels))  # the label table needs every label's id
        return dense, dense.transpose(2, 1, 0), None
    (dask_array,) = require("zarr", "dask.array")
    check_sparse_labels(labels)
    chunks = tuple(min(2 * c, s) for c, s in zip(labels.chunks, labels.shape, strict=True))
    lazy = dask_array.from_array(_Uint16(labels), chunks=chunks, asarray=False)
    return labels, lazy.transpose(2, 1, 0), {"chunks": chunks[::-1]}


class _Uint16:
    """A SparseVolume read as uint16 box by box (what Dask slices)."""

    def __init__(self, labels: SparseVolume):
        self.labels, self.shape, self.dtype, self.ndim = labels, labels.shape, np.dtype("u2"), 3

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.labels[key], dtype=np.uint16)


def check_sparse_labels(labels: SparseVolume) -> None:
    """A sparse label map must be 3-D, of integers in 0..65535 (checked chunk by chunk)."""
    if labels.ndim != 3 or labels.dtype.kind not in "biu":
        raise ValueError(
            f"labels must be a 3-D [X, Y, Z] integer label map; got {labels.dtype} {labels.shape}"
        )
    values = [v for v in labels.counts() if v != 0]
    if values and (min(values) < 0 or max(values) > np.iinfo(np.uint16).max):
        raise ValueError(f"label values must lie in 0..65535; got {min(values)}..{max(values)}")


def write_zarr_labels(path: str | Path, labels: Any) -> Path:
    """Write a label map ``[X, Y, Z]`` as a plain uint16 Zarr array at ``path``, in that axis
    order, chunk by chunk: a :class:`~nni_jupyter.volumes.SparseVolume` writes only its stored
    chunks (the rest read as the fill value 0). An existing ``path`` is replaced once the new
    array is complete.
    """
    (zarr,) = require("zarr", "zarr")
    if isinstance(labels, SparseVolume):
        check_sparse_labels(labels)
        sparse, chunks = labels, labels.chunks
    else:
        dense = check_labels(labels)
        sparse, chunks = None, tuple(min(64, s) for s in dense.shape)

    def write(staged: Path) -> None:
        shape = labels.shape
        array = zarr.create_array(str(staged), shape=shape, chunks=chunks, dtype="u2", fill_value=0)
        if sparse is None:
            array[...] = dense
            return
        for box, values in sparse.iter_chunks():
            array[tuple(slice(lo, hi) for lo, hi in box)] = values.astype(np.uint16)

    return _replace_folder(Path(path).expanduser(), write)
