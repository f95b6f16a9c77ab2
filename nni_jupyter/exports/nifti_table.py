"""NIfTI labels plus a label table: ``<name>.nii.gz`` and ``<name>.tsv`` side by side."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..atomic import write_atomic
from ..image import Image
from ..io.write import write_labels
from .segments import PerObject, check_labels, segments

#: The table's columns, in order.
COLUMNS = ("index", "name", "class_id", "color", "voxels", "volume_ml")
NIFTI_SUFFIXES = (".nii.gz", ".nii")


def table_path(path: str | Path) -> Path:
    """The ``.tsv`` that goes with the NIfTI file ``path`` (``ct.nii.gz`` -> ``ct.tsv``)."""
    path = Path(path).expanduser()
    for suffix in NIFTI_SUFFIXES:
        if path.name.lower().endswith(suffix):
            return path.with_name(path.name[: -len(suffix)] + ".tsv")
    raise ValueError(f"a labels table goes with a .nii.gz or .nii file; got {path.name}")


def write_labels_table(
    labels: Any,
    path: str | Path,
    names: PerObject[str] = None,
    class_ids: PerObject[int] = None,
    colors: PerObject[Sequence[int]] = None,
    like: Image | None = None,
) -> tuple[Path, Path]:
    """Write a label map as uint16 NIfTI and a tab-separated table describing its objects.

    Parameters
    ----------
    labels
        Label map ``[X, Y, Z]``: 0 = background, 1..65535 = objects.
    path
        The NIfTI file (``.nii.gz`` or ``.nii``); the table is written next to it as ``.tsv``.
    names, class_ids, colors
        Per object: ``{label: value}`` or one value per label in order. Defaults: ``"object
        <label>"``, the label itself, the palette's colour.
    like
        The image the labels belong to: its spacing, origin and direction are written, and its
        spacing gives ``volume_ml``. Without it: unit spacing, zero origin, identity direction.

    Returns
    -------
    tuple of Path
        The NIfTI file and the table. Table columns: ``index`` (the label), ``name``,
        ``class_id``, ``color`` (``#rrggbb``), ``voxels``, ``volume_ml``.
    """
    labels = check_labels(labels)
    table = table_path(path)
    voxel_ml = float(np.prod(like.spacing_mm if like is not None else (1.0, 1.0, 1.0))) / 1000.0
    counts = np.bincount(labels.ravel())
    text = io.StringIO()
    writer = csv.writer(text, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for segment in segments(labels, names, class_ids, colors):
        voxels = int(counts[segment.label])
        row = (segment.label, segment.name, segment.class_id, segment.hex_color, voxels)
        writer.writerow((*row, repr(voxels * voxel_ml)))
    data = text.getvalue().encode("utf-8")

    def write(handle: BinaryIO) -> None:
        handle.write(data)

    written = write_labels(labels, path, like=like)
    write_atomic(table, write)
    return written, table
