"""Write small DICOM CT series with SimpleITK, one slice per file, for the io tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nni_jupyter.io import Image


def write_dicom_series(
    image: Image,
    folder: Path,
    series_uid: str,
    slices: Iterable[int] | None = None,
    acquisition: int | None = None,
) -> list[Path]:
    """Write ``image``'s slices ``slices`` (all by default) with the tags a series reader needs.

    ``acquisition`` sets AcquisitionNumber (0020,0012) and keeps the SOP instance UIDs and file
    names of different acquisitions apart. Returns the files written, in slice order.
    """
    volume = sitk.GetImageFromArray(np.ascontiguousarray(image.array.transpose(2, 1, 0)))
    volume.SetSpacing(image.spacing_mm)
    volume.SetOrigin(image.origin_mm)
    volume.SetDirection(tuple(image.direction.ravel()))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    d = image.direction
    orientation = "\\".join(str(v) for v in (*d[:, 0], *d[:, 1]))
    tag = f"{series_uid[-1]}" if acquisition is None else f"{series_uid[-1]}_acq{acquisition}"
    uid = series_uid if acquisition is None else f"{series_uid}.{acquisition}"
    written = []
    for k in range(volume.GetDepth()) if slices is None else slices:
        slice_ = volume[:, :, k]
        tags = {
            "0008|0060": "CT",
            "0008|0016": "1.2.840.10008.5.1.4.1.1.2",
            "0008|0018": f"{uid}.{k + 1}",
            "0020|000d": f"{series_uid}.0",
            "0020|000e": series_uid,
            "0020|0052": f"{series_uid}.9",  # FrameOfReferenceUID, which a CT (and DICOM-SEG) needs
            "0020|0013": str(k + 1),
            "0020|0037": orientation,
            "0020|0032": "\\".join(map(str, volume.TransformIndexToPhysicalPoint((0, 0, k)))),
            "0018|0050": str(image.spacing_mm[2]),
            "0028|1050": "0",  # window centre/width so the slices are valid CT
            "0028|1051": "1",
        }
        if acquisition is not None:
            tags["0020|0012"] = str(acquisition)
        for key, value in tags.items():
            slice_.SetMetaData(key, value)
        path = folder / f"{tag}_slice_{k:03d}.dcm"
        writer.SetFileName(str(path))
        writer.Execute(slice_)
        written.append(path)
    return written
