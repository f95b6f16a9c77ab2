"""Standard outputs for a segmentation: DICOM-SEG, OME-Zarr labels, NIfTI labels with a table.

Each writer takes a label map ``[X, Y, Z]`` (0 = background, one object per nonzero value) and
per-object names, class ids and colours, and writes atomically through :mod:`nni_jupyter.atomic`.
The format libraries are optional extras, imported when a writer runs: ``[dicom]`` (highdicom,
pydicom), ``[zarr]`` (ome-zarr, zarr), ``[io]`` (SimpleITK, for NIfTI).
"""

from __future__ import annotations

from .dicom_seg import write_dicom_seg
from .nifti_table import write_labels_table
from .zarr_labels import write_ome_zarr

__all__ = ["write_dicom_seg", "write_labels_table", "write_ome_zarr"]
