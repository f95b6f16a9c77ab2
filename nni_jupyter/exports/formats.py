"""One call for every format: what :meth:`nni_jupyter.Segmenter.export` writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..image import Image
from ..volumes.ome_zarr import LEVEL_KEY, is_ome_zarr
from ..volumes.sparse import SparseVolume
from .dicom_seg import write_dicom_seg
from .nifti_table import write_labels_table
from .segments import per_object
from .zarr_labels import add_ome_zarr_labels, write_ome_zarr

FORMATS = ("dicom-seg", "ome-zarr", "nifti")


def export(
    format: str,
    path: str | Path,
    labels: np.ndarray | SparseVolume,
    objects: Sequence[Mapping[str, Any]],
    image: Image | np.ndarray,
    spacing_mm: Sequence[float],
    model_name: str,
) -> Path | tuple[Path, Path]:
    """Write ``labels`` in ``format`` with the objects' names, class ids and colours.

    ``objects`` are ``{id, name, class_id, color}`` dicts (the Segmenter's ``objects``); ``image``
    is the segmented image: an :class:`~nni_jupyter.io.Image` with its geometry (one read from a
    DICOM series for ``"dicom-seg"``), or an ``[X, Y, Z]`` array with voxel size ``spacing_mm``.
    ``"ome-zarr"`` into an existing OME-Zarr store adds ``labels/labels`` to it and leaves the
    rest of the store as it was.
    """
    if not isinstance(image, Image):
        x, y, z = (float(v) for v in spacing_mm)
        image = Image(np.asarray(image), spacing_mm=(x, y, z))
    names, class_ids, colors = per_object(objects)
    if format == "ome-zarr" and is_ome_zarr(Path(path).expanduser()):
        # into an existing store (the image's own, or an earlier export): add the labels and
        # touch nothing else in it; sparse labels stay sparse
        same = image.path and Path(image.path).resolve() == Path(path).expanduser().resolve()
        level = int(image.metadata.get(LEVEL_KEY, 0)) if same else 0
        return add_ome_zarr_labels(path, labels, names, colors, class_ids, level)
    labels = np.asarray(labels)  # the other writers take the whole map
    if format == "dicom-seg":
        model = (f"nni_jupyter {model_name}".strip(), __version__)
        return write_dicom_seg(labels, path, image, names, class_ids, colors, model=model)
    if format == "ome-zarr":
        return write_ome_zarr(image, labels, path, names, colors, class_ids)
    if format == "nifti":
        return write_labels_table(labels, path, names, class_ids, colors, like=image)
    raise ValueError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
