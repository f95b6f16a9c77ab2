"""Export every saved case of a study in a standard format (see :mod:`nni_jupyter.exports`).

An export never writes over a file it did not make: not over a case's source image (ever), and
not over any other existing file unless ``overwrite=True``. What it made is recorded in
``<out>/.nni_jupyter_export.json`` (each file's size and modification time), so exporting again
into the same folder replaces its own earlier files, and not a file someone changed since.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..annotation.log import read
from ..atomic import write_json
from ..exports.formats import FORMATS, export
from ..exports.nifti_table import table_path
from ..io import read_image
from ..volumes.ome_zarr import is_ome_zarr
from .layout import StudyFolder

COLUMNS = ["case", "format", "path", "table", "objects", "status"]
#: The file (or folder) each format writes per case: ``<case><suffix>``.
SUFFIXES = {"dicom-seg": ".dcm", "nifti": ".nii.gz", "ome-zarr": ".zarr"}
#: The record of what exports wrote into a folder.
RECORD_FILE = ".nni_jupyter_export.json"


def export_study(
    study: StudyFolder, format: str, out_folder: str | os.PathLike[str], overwrite: bool = False
) -> Any:
    """Write each case that has saved labels and a prompt log to ``out_folder/<case><suffix>``.

    ``format``: ``"dicom-seg"`` (``<case>.dcm``; only for a case whose image is a DICOM series
    folder, whose files it references), ``"nifti"`` (``<case>.nii.gz`` plus ``<case>.tsv``) or
    ``"ome-zarr"`` (``<case>.zarr``: image plus ``labels/labels``; into an existing OME-Zarr
    store only the labels are added, and nothing else in it is touched). Objects keep the names,
    class ids and colours of the prompt log. A case that cannot be written fails its row, not
    the export: among them a case whose output would replace a case's source image, or an
    existing file this export did not make (``overwrite=True`` allows the latter, never the
    former).

    Returns
    -------
    pandas.DataFrame
        One row per case: case, format, path, table (the ``.tsv`` for NIfTI, else None),
        objects (how many were written), status (``"ok"`` or the error).
    """
    import pandas as pd

    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out_folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    record = _read_record(out)
    sources = _source_images(study)
    rows = []
    for case_id in study.cases():
        path = out / f"{case_id}{SUFFIXES[format]}"
        row: dict[str, Any] = dict(case=case_id, format=format, path=path, table=None, objects=0)
        try:
            if study.saved(case_id) is None:
                continue  # nothing saved yet
            targets = [path, table_path(path)] if format == "nifti" else [path]
            _check_targets(targets, sources, record, overwrite)
            row.update(_export_case(study, case_id, format, path), status="ok")
            record.update({t.name: _stamp(t) for t in targets if t.exists()})
            write_json(out / RECORD_FILE, record)
        except Exception as error:  # one bad case fails its row
            row.update(path=None, status=f"{type(error).__name__}: {error}")
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _source_images(study: StudyFolder) -> set[Path]:
    found = set()
    for case_id in study.cases():
        try:
            found.add(study.image_path(case_id).resolve())
        except (KeyError, ValueError, OSError):
            continue  # that case fails its own row
    return found


def _check_targets(
    targets: list[Path], sources: set[Path], record: dict[str, Any], overwrite: bool
) -> None:
    """Refuse to write over a source image, or over an existing file the export did not make."""
    for target in targets:
        if not target.exists() and not target.is_symlink():
            continue
        if target.suffix == ".zarr" and is_ome_zarr(target):
            continue  # labels are added to an existing store; nothing else in it is touched
        if target.resolve() in sources:
            raise FileExistsError(
                f"{target} is a case's source image; an export never replaces it. Export into "
                "another folder"
            )
        if not overwrite and record.get(target.name) != _stamp(target):
            raise FileExistsError(
                f"{target} exists and was not written by an export into this folder (or was "
                "changed since); export into another folder, or pass overwrite=True to replace it"
            )


def _stamp(path: Path) -> list[int]:
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


def _read_record(out: Path) -> dict[str, Any]:
    try:
        record = json.loads((out / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _export_case(study: StudyFolder, case_id: str, format: str, path: Path) -> dict[str, Any]:
    saved = study.saved(case_id)
    if saved is None:
        raise FileNotFoundError(f"case {case_id}: its saved labels and prompt log are gone")
    log = read(saved.prompts)
    image = read_image(study.image_path(case_id))
    labels = read_image(saved.labels).array
    if labels.shape != image.shape:
        raise ValueError(
            f"case {case_id}: saved labels have shape {labels.shape}, the image {image.shape}"
        )
    if format == "dicom-seg" and not study.image_path(case_id).is_dir():
        raise ValueError(
            f"case {case_id}: DICOM-SEG references a DICOM series, and this case's image is "
            f"{study.image_path(case_id).name}; export it as nifti or ome-zarr"
        )
    written = export(
        format, path, labels, log["objects"], image, image.spacing_mm, log["model"]["name"]
    )
    present = {int(v) for v in np.unique(labels)} - {0}
    table = written[1] if isinstance(written, tuple) else None
    return {"table": table, "objects": len(present)}
