"""Export every saved case of a study in a standard format (see :mod:`nni_jupyter.exports`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..exports.formats import FORMATS
from .study import Study

COLUMNS = ["case", "format", "path", "table", "objects", "status"]
#: The file (or folder) each format writes per case: ``<case><suffix>``.
SUFFIXES = {"dicom-seg": ".dcm", "nifti": ".nii.gz", "ome-zarr": ".zarr"}


def export_study(study: Study, format: str, out_folder: str | os.PathLike[str]) -> Any:
    """Write each case that has saved labels and a prompt log to ``out_folder/<case><suffix>``.

    ``format``: ``"dicom-seg"`` (``<case>.dcm``; only for a case whose image is a DICOM series
    folder, whose files it references), ``"nifti"`` (``<case>.nii.gz`` plus ``<case>.tsv``) or
    ``"ome-zarr"`` (``<case>.zarr``: image plus ``labels/labels``). Objects keep the names, class
    ids and colours of the prompt log. A case that cannot be written fails its row, not the
    export.

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
    rows = []
    for case_id in study.cases():
        if not (study.labels_path(case_id).is_file() and study.prompts_path(case_id).is_file()):
            continue  # nothing saved yet
        path = out / f"{case_id}{SUFFIXES[format]}"
        row: dict[str, Any] = dict(case=case_id, format=format, path=path, table=None, objects=0)
        try:
            row.update(_export_case(study, case_id, format, path), status="ok")
        except Exception as error:  # one bad case fails its row
            row.update(path=None, status=f"{type(error).__name__}: {error}")
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _export_case(study: Study, case_id: str, format: str, path: Path) -> dict[str, Any]:
    import numpy as np

    from ..exports.formats import export
    from ..io import read_image
    from ..widget.prompt_log import read

    log = read(study.prompts_path(case_id))
    image = read_image(study.image_path(case_id))
    labels = read_image(study.labels_path(case_id)).array
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
