"""Read medical images and write masks and label maps, keeping their geometry.

Files go through SimpleITK (extra ``[io]``): NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``,
``.nhdr``), MetaImage (``.mha``, ``.mhd``) and DICOM series (a folder of slices).

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
        Header fields SimpleITK exposes (e.g. DICOM tags of the first slice), as strings.
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
    array = sitk.GetArrayFromImage(sitk_image).transpose(2, 1, 0)
    metadata = {key: sitk_image.GetMetaData(key) for key in sitk_image.GetMetaDataKeys()}
    return Image(
        array=np.ascontiguousarray(array),
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


def read_image(path: str | Path, series_id: str | None = None) -> Image:
    """Read a 3-D image file or a DICOM series folder, keeping spacing, origin and direction.

    Parameters
    ----------
    path
        A NIfTI, NRRD or MetaImage file (anything SimpleITK reads), or a folder holding one DICOM
        series.
    series_id
        For a folder with several DICOM series, the SeriesInstanceUID to read.

    Returns
    -------
    Image
        The voxels as ``[X, Y, Z]`` (see the module docstring for the axis mapping) and geometry.
    """
    sitk = _sitk()
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no image at {path}; give a NIfTI/NRRD/MHA file or a DICOM folder")
    if path.is_dir():
        return from_sitk(_read_dicom_series(path, series_id), path=str(path))
    try:
        sitk_image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        raise ValueError(
            f"SimpleITK cannot read {path}: {error}. Expected a NIfTI, NRRD, MHA or DICOM file; "
            "for a DICOM series pass its folder"
        ) from error
    return from_sitk(sitk_image, path=str(path))


def _read_dicom_series(folder: Path, series_id: str | None) -> SimpleITK.Image:
    sitk = _sitk()
    series_ids = list(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)) or ())
    if not series_ids:
        raise ValueError(f"no DICOM series in {folder}; expected a folder of .dcm slices")
    if series_id is None:
        if len(series_ids) > 1:
            raise ValueError(
                f"{folder} holds {len(series_ids)} DICOM series {series_ids}; "
                "choose one with read_image(folder, series_id=...)"
            )
        series_id = series_ids[0]
    elif series_id not in series_ids:
        raise ValueError(f"series {series_id!r} is not in {folder}; found {series_ids}")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_id))
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOn()
    sitk_image = reader.Execute()
    for key in reader.GetMetaDataKeys(0):
        sitk_image.SetMetaData(key, reader.GetMetaData(0, key))
    return sitk_image


def _check_suffix(path: Path) -> None:
    name = path.name.lower()
    if not name.endswith(WRITE_SUFFIXES):
        raise ValueError(
            f"cannot write {path.name}: expected one of {', '.join(WRITE_SUFFIXES)} "
            "(DICOM output is not supported; use .nii.gz for a portable file)"
        )


def write_image(image: Image | np.ndarray, path: str | Path, like: Image | None = None) -> Path:
    """Write an image (its own dtype) with its geometry, or ``like``'s for a bare array.

    Returns the path written. ``.nii.gz`` and other compressible formats are compressed.
    """
    path = Path(path).expanduser()
    _check_suffix(path)
    if isinstance(image, Image):
        like, array = (like or image), image.array
    else:
        array = np.asarray(image)
    sitk = _sitk()
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(to_sitk(array, like), str(path), useCompression=True)
    return path


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
