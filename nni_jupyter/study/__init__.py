"""Studies: a folder of cases, their prompt logs and labels, replayed on a Dask cluster.

See :class:`Study`. The folder layout::

    <study>/cases/<id>/case.json      the case's image path
    <study>/cases/<id>/prompts.json   its prompt log (``Study.save``)
    <study>/cases/<id>/labels.nii.gz  its labels (``Study.save``)
    <study>/replays/<model-sha256>/<id>.nii.gz   a replay's labels, and <id>.json its marker
                                                 (prompt-log and model SHA-256, settings, rows)

:meth:`Study.export` writes the saved cases elsewhere as DICOM-SEG, NIfTI + table or OME-Zarr.
"""

from __future__ import annotations

from .names import check_case_id
from .study import Study

__all__ = ["Study", "check_case_id"]
