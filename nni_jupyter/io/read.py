"""Read a medical image file, a DICOM series folder or an OME-Zarr image (:mod:`nni_jupyter.io`)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..image import Image
from ..system_memory import BUDGET_ENV, gib, memory_limit
from ..volumes.ome_zarr import is_ome_zarr, read_ome_zarr
from . import dicom, headers, nifti
from .sitk import from_sitk, load_sitk


def read_image(
    path: str | Path,
    series_id: str | None = None,
    *,
    acquisition: int | None = None,
    allow_gaps: bool = False,
    level: int | None = None,
) -> Image:
    """Read a 3-D image file, a DICOM series folder or an OME-Zarr image, keeping spacing, origin
    and direction. OME-Zarr is opened lazily (:func:`nni_jupyter.volumes.read_ome_zarr`): its
    voxels are read chunk by chunk when a view or a prompt needs them.

    Parameters
    ----------
    path
        A NIfTI, NRRD or MetaImage file (anything SimpleITK reads), or a folder holding one DICOM
        series.
    series_id
        For a folder with several DICOM series, the SeriesInstanceUID to read.
    acquisition
        For a DICOM series holding several acquisitions at the same slice positions, the
        AcquisitionNumber (0020,0012) to read; without it such a series is an error listing them.
    allow_gaps
        For a DICOM series whose slice positions are not evenly spaced (missing slices): place
        each slice at its position on a grid of the median gap and fill the missing slices with
        the series' lowest value; their indices along axis 2 are listed in
        ``metadata["nni_jupyter|missing_slices"]``. Without it such a series is an error saying
        where the gap is. Gaps that are not whole multiples of the median gap are always an error.
    level
        For an OME-Zarr image, the resolution level to read (default 0, full resolution).

    Returns
    -------
    Image
        The voxels as ``[X, Y, Z]`` (see the module docstring for the axis mapping) and geometry.

    Raises
    ------
    ValueError
        The file is truncated or its header claims more than it holds, or the DICOM series is not
        one regular volume (mixed sizes, duplicate positions, gaps); the message says how to
        choose.
    MemoryError
        Reading needs more than the memory available (or ``$NNI_JUPYTER_MEMORY_BUDGET``).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no image at {path}; give a NIfTI/NRRD/MHA file or a DICOM folder")
    if is_ome_zarr(path):
        return read_ome_zarr(path, level)
    if level is not None:
        raise ValueError(f"level= applies to OME-Zarr images; {path} is not one")
    if path.is_dir():
        series = dicom.read_series(path, _series_id(path, series_id), acquisition, allow_gaps)
        return from_sitk(series, path=str(path))
    if acquisition is not None or allow_gaps:
        raise ValueError(f"acquisition= and allow_gaps= apply to DICOM folders; {path} is a file")
    with _exactly(path) as readable:
        try:
            if nifti.is_nifti(path):
                nifti.check_complete(path)
            _check_claim(path, readable)
            sitk_image = load_sitk().ReadImage(str(readable))
        except RuntimeError as error:
            raise ValueError(
                f"SimpleITK cannot read {path}: {error}. Expected a NIfTI, NRRD, MHA or DICOM "
                "file; for a DICOM series pass its folder"
            ) from error
    return from_sitk(sitk_image, path=str(path))


@contextlib.contextmanager
def _exactly(path: Path) -> Iterator[Path]:
    """A path SimpleITK reads as ``path`` itself. Its NIfTI reader looks files up by their base
    name, and given ``x.nii.gz`` reads ``x.nii`` when both exist; then it is given a link of
    its own in a private folder."""
    if not nifti.is_nifti(path) or not _nifti_siblings(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nni_jupyter-read-") as folder:
        suffix = ".nii.gz" if path.name.lower().endswith(".gz") else ".nii"
        alias = Path(folder) / f"image{suffix}"
        try:
            alias.symlink_to(path.resolve())
        except OSError:  # no symbolic links here (Windows without the right)
            shutil.copyfile(path, alias)
        yield alias


def _nifti_siblings(path: Path) -> list[Path]:
    """Files NIfTI/Analyze readers may take for ``path``: same base name, another ending."""
    name = path.name
    base = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else name[: -len(".nii")]
    endings = (".nii", ".nii.gz", ".hdr", ".hdr.gz", ".img", ".img.gz", ".NII", ".NII.GZ")
    return [s for s in (path.with_name(base + e) for e in endings) if s.name != name and s.exists()]


def _check_claim(path: Path, readable: Path) -> None:
    """Refuse a file whose header claims more voxels than it stores or than memory holds,
    before allocating."""
    sitk = load_sitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(readable))
    reader.ReadImageInformation()
    size = reader.GetSize()
    sample = sitk.Image([1] * len(size), reader.GetPixelID(), reader.GetNumberOfComponents())
    voxel_bytes = sitk.GetArrayViewFromImage(sample).nbytes
    voxels = int(np.prod(size, dtype=object))
    what = f"{'x'.join(map(str, size))} voxels of {voxel_bytes} bytes"
    headers.check_stored_size(path, voxels, voxel_bytes, what)
    # ITK's buffer and the [X, Y, Z] copy exist together while converting
    needed = 2 * voxels * voxel_bytes
    limit, source = memory_limit()
    if limit is not None and needed > limit:
        raise MemoryError(
            f"reading {path} ({what}, as its header says) needs about {gib(needed)} but "
            f"{source} is {gib(limit)}. Free memory, raise ${BUDGET_ENV}, or crop the file with "
            "a tool that streams it"
        )


def _series_id(folder: Path, series_id: str | None) -> str:
    series_ids = dicom.series_ids(folder)
    if not series_ids:
        raise ValueError(f"no DICOM series in {folder}; expected a folder of .dcm slices")
    if series_id is None:
        if len(series_ids) > 1:
            raise ValueError(
                f"{folder} holds {len(series_ids)} DICOM series {series_ids}; "
                "choose one with read_image(folder, series_id=...)"
            )
        return series_ids[0]
    if series_id not in series_ids:
        raise ValueError(f"series {series_id!r} is not in {folder}; found {series_ids}")
    return series_id
