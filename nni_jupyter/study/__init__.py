"""Studies: a folder of cases, their prompt logs and labels, replayed on a Dask cluster.

See :class:`Study`. The folder layout::

    <study>/cases/<id>/case.json      the case's image path
    <study>/cases/<id>/saved.json     names the folder of its current save (``Study.save``):
    <study>/cases/<id>/saves/<save>/prompts.json    its prompt log
    <study>/cases/<id>/saves/<save>/labels.nii.gz   its labels
    <study>/cases/<id>/lock.json      who has the case open for writing (:mod:`.lock`)
    <study>/cases/<id>/review.json    its status when decided: done, needs review (with a
                                      reviewer's note), accepted (by whom, when) (:mod:`.review`)
    <study>/replays/<model-sha256>/<id>.nii.gz   a replay's labels, and <id>.json its marker
                                                 (prompt-log and model SHA-256, settings, rows)

Studies saved before ``saved.json`` existed hold ``prompts.json`` and ``labels.nii.gz`` in the
case folder itself; they read as they are (:mod:`.layout`).
:meth:`Study.desk` is a widget to work through the cases as a team (:mod:`.desk`).
:meth:`Study.export` writes the saved cases elsewhere as DICOM-SEG, NIfTI + table or OME-Zarr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .lock import CaseTaken, Holder
from .names import check_case_id
from .study import Study

if TYPE_CHECKING:
    from .desk import StudyDesk

__all__ = ["CaseTaken", "Holder", "Study", "StudyDesk", "check_case_id"]


def __getattr__(name: str) -> Any:
    # the desk is a widget: loaded when asked for, so a Dask worker replaying a study (which
    # imports this package) never imports ipywidgets or anywidget
    if name == "StudyDesk":
        return importlib.import_module(".desk", __name__).StudyDesk
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
