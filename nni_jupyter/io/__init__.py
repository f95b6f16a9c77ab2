"""Read medical images and write masks and label maps, keeping their geometry.

Files go through SimpleITK (extra ``[io]``): NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``,
``.nhdr``), MetaImage (``.mha``, ``.mhd``) and DICOM series (a folder of slices).

Reading checks before allocating: a file must hold the bytes its header claims (:mod:`.nifti`,
:mod:`.headers`), the voxels must fit in memory, and a DICOM series must be one regular
volume (:mod:`.dicom`); the file read is the one named (never a same-named sibling). Writing
is atomic (:mod:`nni_jupyter.atomic`): a reader sees the old file or the new one, never a part,
and a header with a data file of its own (``.mhd``, ``.nhdr``) is replaced as one pair.

Axis order
----------
nni_jupyter arrays are ``[X, Y, Z]``: axis 0 is SimpleITK's first index ``i`` (x), axis 1 is ``j``
(y), axis 2 is ``k`` (z). SimpleITK's ``GetArrayFromImage`` returns ``[z, y, x]``, so this module
transposes with ``.transpose(2, 1, 0)`` both ways. Hence ``array[i, j, k]`` is the voxel
``sitk_image.GetPixel(i, j, k)``, and its physical position (mm, in the file's world frame, LPS for
DICOM/ITK) is ``origin_mm + direction @ (spacing_mm * (i, j, k))``, the same point as
``sitk_image.TransformIndexToPhysicalPoint((i, j, k))``. The voxels are never resampled or
reoriented: nnInteractive segments the array as stored.

The package's parts: :mod:`.read` (``read_image``), :mod:`.write` (``write_image``,
``write_mask``, ``write_labels``), :mod:`.sitk` (SimpleITK and the conversions), :mod:`.dicom`
(DICOM series checks), :mod:`.nifti` and :mod:`.headers` (NIfTI, NRRD and MetaImage header
claims checked against the bytes the file holds, before reading);
:class:`Image` lives in :mod:`nni_jupyter.image` so that lower layers can share it.
"""

from __future__ import annotations

from ..image import Image
from .read import read_image
from .sitk import from_sitk, to_sitk
from .write import WRITE_SUFFIXES, write_image, write_labels, write_mask

__all__ = [
    "WRITE_SUFFIXES",
    "Image",
    "from_sitk",
    "read_image",
    "to_sitk",
    "write_image",
    "write_labels",
    "write_mask",
]
