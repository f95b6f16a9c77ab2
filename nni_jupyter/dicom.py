"""DICOM series reading moved to :mod:`nni_jupyter.io.dicom`; these names stay importable here."""

from __future__ import annotations

from .io.dicom import (
    ACQUISITION,
    MISSING_SLICES_KEY,
    ORIENTATION,
    POSITION,
    SOURCE_FILES_KEY,
    SPACING_TOLERANCE,
    Slice,
    read_series,
    series_ids,
)

__all__ = [
    "ACQUISITION",
    "MISSING_SLICES_KEY",
    "ORIENTATION",
    "POSITION",
    "SOURCE_FILES_KEY",
    "SPACING_TOLERANCE",
    "Slice",
    "read_series",
    "series_ids",
]
