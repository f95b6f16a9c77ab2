"""An annotation's labels written out in standard formats, and measured.

The formats live in :mod:`nni_jupyter.exports`; this module picks what an annotation gives them
(labels, objects, geometry) and refuses, with the numbers, a dense copy that would not fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exports.formats import export as export_format
from ..exports.segments import per_object
from ..exports.zarr_labels import add_ome_zarr_labels, write_zarr_labels
from ..measurements import measure
from ..system_memory import gib, memory_limit
from ..volumes import SparseVolume
from ..volumes.ome_zarr import LEVEL_KEY, levels

if TYPE_CHECKING:
    from .annotation import Annotation

#: Dense copies of the label map an export may hold at once (labels, one object's mask, its
#: encoded frames).
_EXPORT_COPIES = 3


def measure_labels(annotation: Annotation, as_dataframe: bool | None) -> Any:
    """Per object: voxels, volume in mL, bbox, centroid in voxels and in mm."""
    geometry = annotation.geometry if annotation.geometry is not None else annotation.spacing_mm
    names = annotation.object_names()
    return measure(annotation.labels, geometry, names, as_dataframe=as_dataframe)


def export(annotation: Annotation, format: str, path: str | Path) -> Path | tuple[Path, Path]:
    """Write every object in ``format`` (see :func:`nni_jupyter.exports.formats.export`)."""
    labels = annotation.labels
    if isinstance(labels, SparseVolume):  # a lazy image's: these formats need it dense
        _check_dense_fits(labels, format)
    image = annotation.geometry if annotation.geometry is not None else annotation.volume
    name = annotation.model_info["name"]
    objects = annotation.objects
    return export_format(format, path, labels, objects, image, annotation.spacing_mm, name)


def save_labels(annotation: Annotation, path: str | Path, name: str = "labels") -> Path:
    """Write the label map chunk by chunk (never whole in memory for a lazy image).

    Into an OME-Zarr image at ``path`` the labels go as ``labels/<name>`` with the objects'
    names, class ids and colours, at the level of the labels' shape (the image's own level when
    ``path`` is the store the image was read from); any other ``path`` gets a plain uint16 Zarr
    array ``[X, Y, Z]``.
    """
    labels = annotation.labels
    target = Path(path).expanduser()
    try:
        found = levels(target) if target.exists() else []
    except ValueError:  # a folder that is not an OME-Zarr image
        found = []
    if not found:
        return write_zarr_labels(target, labels)
    same = [i for i, level in enumerate(found) if level.shape == tuple(labels.shape)]
    geometry = annotation.geometry
    source = getattr(geometry, "path", None)
    if geometry is not None and source and Path(source).resolve() == target.resolve():
        same = [int(geometry.metadata.get(LEVEL_KEY, 0))]
    if not same:
        raise ValueError(
            f"{target} has no resolution level of the labels' shape {tuple(labels.shape)}; "
            f"its levels are {[level.shape for level in found]}"
        )
    names, class_ids, colors = per_object(annotation.objects)
    return add_ome_zarr_labels(
        target, labels, names, colors, class_ids, level=same[0], label_name=name
    )


def _check_dense_fits(labels: SparseVolume, format: str) -> None:
    """Refuse, with the numbers, an export whose dense label map would not fit in memory."""
    needed = labels.size * max(labels.dtype.itemsize, 2) * _EXPORT_COPIES
    limit, source = memory_limit()
    if limit is not None and needed > limit:
        raise MemoryError(
            f"exporting {format!r} makes the label map {list(labels.shape)} dense: about "
            f"{gib(needed)}, more than {gib(limit)} ({source}). Write it chunk by chunk with "
            "save_labels(path) (OME-Zarr or Zarr), or save the work with save(path)."
        )
