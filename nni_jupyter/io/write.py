"""Write images, masks and label maps with their geometry, atomically (:mod:`nni_jupyter.io`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..atomic import replace_atomically
from ..image import Image
from ..system_memory import gib
from .sitk import load_sitk, to_sitk

#: File endings ``write_mask``/``write_labels`` accept (DICOM is read-only here).
WRITE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


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
            load_sitk().WriteImage(sitk_image, str(staged), useCompression=True)
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
