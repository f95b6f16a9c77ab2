"""Read medical images and write masks and label maps, keeping their geometry.

Files go through SimpleITK (extra ``[io]``): NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``,
``.nhdr``), MetaImage (``.mha``, ``.mhd``) and DICOM series (a folder of slices).

Reading checks before allocating: a NIfTI file must hold the bytes its header claims
(:mod:`nni_jupyter.nifti`), the voxels must fit in memory, and a DICOM series must be one regular
volume (:mod:`nni_jupyter.dicom`). Writing is atomic (:mod:`nni_jupyter.atomic`): a reader sees the
old file or the new one, never a part.

Axis order
----------
nni_jupyter arrays are ``[X, Y, Z]``: axis 0 is SimpleITK's first index ``i`` (x), axis 1 is ``j``
(y), axis 2 is ``k`` (z). SimpleITK's ``GetArrayFromImage`` returns ``[z, y, x]``, so this module
transposes with ``.transpose(2, 1, 0)`` both ways. Hence ``array[i, j, k]`` is the voxel
``sitk_image.GetPixel(i, j, k)``, and its physical position (mm, in the file's world frame, LPS for
DICOM/ITK) is ``origin_mm + direction @ (spacing_mm * (i, j, k))``, the same point as
``sitk_image.TransformIndexToPhysicalPoint((i, j, k))``. The voxels are never resampled or
reoriented: nnInteractive segments the array as stored.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dicom, nifti
from .atomic import replace_atomically
from .system_memory import BUDGET_ENV, gib, memory_limit

if TYPE_CHECKING:
    import SimpleITK

#: File endings ``write_mask``/``write_labels`` accept (DICOM is read-only here).
WRITE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def _sitk() -> Any:
    try:
        import SimpleITK as sitk
    except ImportError as error:
        raise ImportError(
            "reading and writing medical image files needs SimpleITK; "
            "install it with: pip install nni_jupyter[io]"
        ) from error
    return sitk


@dataclass(frozen=True, eq=False)
class Image:
    """A 3-D image in nni_jupyter's ``[X, Y, Z]`` axis order with its physical geometry.

    Attributes
    ----------
    array
        Voxel values ``[X, Y, Z]``, in the file's own dtype (raw intensities, never rescaled).
    spacing_mm
        Voxel size along x, y, z in mm.
    origin_mm
        Physical position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction
        3x3 direction cosines: column ``d`` is the physical direction of array axis ``d``.
    path
        The file or DICOM folder this image was read from, if any.
    metadata
        Header fields SimpleITK exposes (e.g. DICOM tags of the first slice), as strings; for a
        DICOM series also its files in slice order (:data:`nni_jupyter.dicom.SOURCE_FILES_KEY`).
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    path: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Image.array must be 3-D [X, Y, Z]; got shape {self.array.shape}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "spacing_mm", tuple(float(v) for v in self.spacing_mm))
        object.__setattr__(self, "origin_mm", tuple(float(v) for v in self.origin_mm))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The array's shape ``(X, Y, Z)``."""
        x, y, z = self.array.shape
        return x, y, z

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.array, dtype=dtype)

    def index_to_physical(self, index: Sequence[float]) -> np.ndarray:
        """Physical point (mm) of a voxel index ``(i, j, k)`` (fractional indices allowed)."""
        voxel = np.asarray(index, dtype=float)
        return np.asarray(self.origin_mm) + self.direction @ (np.asarray(self.spacing_mm) * voxel)

    def physical_to_index(self, point_mm: Sequence[float]) -> np.ndarray:
        """Continuous voxel index ``(i, j, k)`` of a physical point (mm); round it for a voxel."""
        offset = np.asarray(point_mm, dtype=float) - np.asarray(self.origin_mm)
        return np.linalg.solve(self.direction, offset) / np.asarray(self.spacing_mm)

    def session_input(self) -> np.ndarray:
        """The array as the session's 4-D input ``[1, X, Y, Z]`` (a view, no copy)."""
        return self.array[None]


def from_sitk(sitk_image: SimpleITK.Image, path: str | None = None) -> Image:
    """Convert a 3-D scalar SimpleITK image to an :class:`Image` (``[z, y, x]`` → ``[X, Y, Z]``)."""
    sitk = _sitk()
    if sitk_image.GetDimension() != 3 or sitk_image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"expected a 3-D scalar image; got {sitk_image.GetDimension()}-D with "
            f"{sitk_image.GetNumberOfComponentsPerPixel()} component(s) per voxel"
            + (f" in {path}" if path else "")
            + ". Extract one 3-D channel or time point first (e.g. with SimpleITK's Extract)."
        )
    # one copy out of ITK's buffer, straight into [X, Y, Z] order
    array = np.array(sitk.GetArrayViewFromImage(sitk_image).transpose(2, 1, 0), order="C")
    metadata = {key: sitk_image.GetMetaData(key) for key in sitk_image.GetMetaDataKeys()}
    return Image(
        array=array,
        spacing_mm=sitk_image.GetSpacing(),
        origin_mm=sitk_image.GetOrigin(),
        direction=np.asarray(sitk_image.GetDirection()).reshape(3, 3),
        path=path,
        metadata=metadata,
    )


def to_sitk(array: np.ndarray, like: Image | None = None) -> SimpleITK.Image:
    """Convert an ``[X, Y, Z]`` array to a SimpleITK image with ``like``'s geometry.

    Without ``like`` the image has unit spacing, zero origin and identity direction.
    """
    sitk = _sitk()
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"expected a 3-D [X, Y, Z] array; got shape {array.shape}")
    if like is not None and tuple(array.shape) != like.shape:
        raise ValueError(
            f"array shape {array.shape} differs from the reference image's {like.shape}; "
            "write arrays segmented on that image (same [X, Y, Z] shape)"
        )
    if array.dtype == bool:
        array = array.astype(np.uint8)
    sitk_image = sitk.GetImageFromArray(np.ascontiguousarray(array.transpose(2, 1, 0)))
    if like is not None:
        sitk_image.SetSpacing(like.spacing_mm)
        sitk_image.SetOrigin(like.origin_mm)
        sitk_image.SetDirection(tuple(like.direction.ravel()))
    return sitk_image


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
    sitk = _sitk()
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no image at {path}; give a NIfTI/NRRD/MHA file or a DICOM folder")
    from .volumes.ome_zarr import is_ome_zarr, read_ome_zarr

    if is_ome_zarr(path):
        return read_ome_zarr(path, level)
    if level is not None:
        raise ValueError(f"level= applies to OME-Zarr images; {path} is not one")
    if path.is_dir():
        series = dicom.read_series(path, _series_id(path, series_id), acquisition, allow_gaps)
        return from_sitk(series, path=str(path))
    if acquisition is not None or allow_gaps:
        raise ValueError(f"acquisition= and allow_gaps= apply to DICOM folders; {path} is a file")
    try:
        if nifti.is_nifti(path):
            nifti.check_complete(path)
        _check_memory(path)
        sitk_image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise ValueError(
            f"SimpleITK cannot read {path}: {error}. Expected a NIfTI, NRRD, MHA or DICOM file; "
            "for a DICOM series pass its folder"
        ) from error
    return from_sitk(sitk_image, path=str(path))


def _check_memory(path: Path) -> None:
    """Refuse a file whose header claims more voxels than memory holds, before allocating."""
    sitk = _sitk()
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = reader.GetSize()
    sample = sitk.Image([1] * len(size), reader.GetPixelID(), reader.GetNumberOfComponents())
    voxel_bytes = sitk.GetArrayViewFromImage(sample).nbytes
    # ITK's buffer and the [X, Y, Z] copy exist together while converting
    needed = 2 * int(np.prod(size, dtype=object)) * voxel_bytes
    limit, source = memory_limit()
    if limit is not None and needed > limit:
        raise MemoryError(
            f"reading {path} ({'x'.join(map(str, size))} voxels of {voxel_bytes} bytes, as its "
            f"header says) needs about {gib(needed)} but {source} is {gib(limit)}. Free memory, "
            f"raise ${BUDGET_ENV}, or crop the file with a tool that streams it"
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


def _check_suffix(path: Path) -> None:
    name = path.name.lower()
    if not name.endswith(WRITE_SUFFIXES):
        raise ValueError(
            f"cannot write {path.name}: expected one of {', '.join(WRITE_SUFFIXES)} "
            "(DICOM output is not supported; use .nii.gz for a portable file)"
        )


def write_image(image: Image | np.ndarray, path: str | Path, like: Image | None = None) -> Path:
    """Write an image (its own dtype) with its geometry, or ``like``'s for a bare array.

    Returns the path written. ``.nii.gz`` and other compressible formats are compressed. The
    write is atomic: a reader (or a crash) sees the old file or the new one, never a part.
    A read-only target or folder raises ``PermissionError("permission denied: <path> ...")``.
    """
    path = Path(path).expanduser()
    _check_suffix(path)
    if isinstance(image, Image):
        like, array = (like or image), image.array
    else:
        array = np.asarray(image)
    sitk_image = to_sitk(array, like)

    def write(staged: Path) -> None:
        try:
            _sitk().WriteImage(sitk_image, str(staged), useCompression=True)
        except RuntimeError as error:
            free = shutil.disk_usage(staged.parent).free
            raise OSError(
                f"could not write {path} ({gib(free)} free on its disk): {error}"
            ) from error

    return replace_atomically(path, write)


def write_mask(mask: np.ndarray, path: str | Path, like: Image | None = None) -> Path:
    """Write a binary mask ``[X, Y, Z]`` as uint8 0/1 with the geometry of ``like``.

    Parameters
    ----------
    mask
        Any array whose nonzero voxels are the object (bool or integer), shape ``[X, Y, Z]``.
    path
        Output file: ``.nii.gz``, ``.nii``, ``.nrrd``, ``.nhdr``, ``.mha`` or ``.mhd``.
    like
        The image the mask was segmented on (from :func:`read_image`); without it the file gets
        unit spacing, zero origin and identity direction.

    Returns
    -------
    Path
        The path written.
    """
    return write_image((np.asarray(mask) != 0).astype(np.uint8), path, like=like)


def write_labels(labels: np.ndarray, path: str | Path, like: Image | None = None) -> Path:
    """Write a label map ``[X, Y, Z]`` (0 = background, 1..N = objects) as uint16.

    Parameters
    ----------
    labels
        Non-negative integer label map; values must fit uint16.
    path
        Output file, as for :func:`write_mask`.
    like
        The image the labels belong to; its spacing, origin and direction are written.

    Returns
    -------
    Path
        The path written.
    """
    labels = np.asarray(labels)
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"labels must be an integer label map; got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError(
            f"label values must lie in 0..65535 to be written as uint16; got "
            f"{labels.min()}..{labels.max()}"
        )
    return write_image(labels.astype(np.uint16), path, like=like)
