"""SimpleITK (extra ``[io]``), loaded on first use, and conversions to and from :class:`Image`.

SimpleITK's arrays are ``[z, y, x]``; ours ``[X, Y, Z]``: both ways transpose ``(2, 1, 0)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..image import Image

if TYPE_CHECKING:
    import SimpleITK


def load_sitk() -> Any:
    """The SimpleITK module, or an ImportError saying which extra installs it."""
    try:
        import SimpleITK as sitk
    except ImportError as error:
        raise ImportError(
            "reading and writing medical image files needs SimpleITK; "
            "install it with: pip install nni_jupyter[io]"
        ) from error
    return sitk


def from_sitk(sitk_image: SimpleITK.Image, path: str | None = None) -> Image:
    """Convert a 3-D scalar SimpleITK image to an :class:`Image` (``[z, y, x]`` → ``[X, Y, Z]``)."""
    sitk = load_sitk()
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
    sitk = load_sitk()
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
