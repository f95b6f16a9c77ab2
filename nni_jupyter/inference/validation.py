"""Input checks for the session. Each raises before any state changes, naming what was expected."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..volumes.lazy import LazyVolume
from ..volumes.sparse import SparseVolume
from .regions import Bbox, nonzero_bbox, shift

#: Intensities are z-scored by their mean and standard deviation: those need two voxels.
MIN_VOXELS = 2
_ZSCORE = "nnInteractive normalises intensities by their mean and standard deviation"


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def to_numpy(array: Any, name: str) -> np.ndarray:
    """Return ``array`` (numpy or torch) as a numpy array."""
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    if isinstance(array, np.ndarray):
        return array
    raise TypeError(f"{name} must be a numpy array or torch tensor; got {type(array).__name__}")


def check_image(image: Any, num_channels: int | None) -> Any:
    """Validate an image ``[C, X, Y, Z]`` of real numbers; return it as numpy (a lazy volume,
    :class:`~nni_jupyter.volumes.LazyVolume`, stays lazy: it is checked, not read)."""
    array = image if isinstance(image, LazyVolume) else to_numpy(image, "image")
    if array.ndim != 4:
        raise ValueError(
            f"image must be 4-D [1, X, Y, Z]; got shape {_shape_text(array.shape)}. "
            "Add the channel axis with image[None]."
        )
    if num_channels is not None and array.shape[0] != num_channels:
        raise ValueError(
            f"image must have {num_channels} channel(s) on axis 0 ([{num_channels}, X, Y, Z]); "
            f"got shape {_shape_text(array.shape)}"
        )
    if min(array.shape[1:]) < 1:
        raise ValueError(f"image has an empty spatial axis: shape {_shape_text(array.shape)}")
    if math.prod(array.shape[1:]) < MIN_VOXELS:
        raise ValueError(
            f"image of shape {_shape_text(array.shape)} is too small: it needs at least "
            f"{MIN_VOXELS} voxels, because {_ZSCORE} (one voxel has no standard deviation)"
        )
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(
            f"image must hold raw integer or float intensities; got dtype {array.dtype}. "
            "Pass the image as loaded (e.g. int16 CT, float32 MR), without conversion to uint8."
        )
    return array


def explain_statistics(image: np.ndarray, region_voxels: int) -> str:
    """Say why the z-score statistics of ``image`` came out NaN or inf (call it only then).

    ``region_voxels`` is the size of the region they were computed over (the box around the
    nonzero voxels). Reads the image once more: a cost paid on this error path only.
    """
    if region_voxels < MIN_VOXELS:
        return (
            f"image has one nonzero voxel; {_ZSCORE} over the box around the nonzero voxels, "
            f"which needs at least {MIN_VOXELS} voxels (one voxel has no standard deviation)"
        )
    if not np.isfinite(image).all():
        return "image holds NaN or inf values; replace them (e.g. np.nan_to_num) before set_image"
    # finite values whose statistics are not: float64 beyond what the float32 copy can hold
    peak = max(-float(image.min()), float(image.max()))
    limit = float(np.finfo(np.float32).max)
    return (
        f"image values reach {peak:.3g} in magnitude, beyond the float32 range (+-{limit:.3g}) "
        "that nnInteractive computes in; rescale the image (e.g. divide it by a constant) or "
        "clip it before set_image"
    )


def explain_all_zero(image: np.ndarray | LazyVolume) -> str:
    """Say why an image's float32 copy is entirely zero: it is, or its values are too small for
    float32 (a float64 image near 1e-297). Reads a float64 image once more, on this path only."""
    if isinstance(image, np.ndarray) and image.dtype == np.float64 and image.any():
        peak = float(np.abs(image).max())
        tiny = float(np.finfo(np.float32).smallest_subnormal)
        return (
            f"image values are tiny: the largest is {peak:.3g} in magnitude, below float32's "
            f"smallest ({tiny:.3g}), so all of them become 0 in the float32 copy nnInteractive "
            "computes in. Rescale the image (e.g. multiply it by a constant) before set_image"
        )
    return (
        "image is entirely zero; nnInteractive needs intensities to normalise. "
        "Pass the raw image, not an empty array."
    )


def explain_constant(region: np.ndarray | LazyVolume) -> str:
    """Say why an image's nonzero region has no spread in float32 (std 0): it is constant, or
    its values differ by less than float32 resolves at their size (a uint64 image near 2^64).
    Reads the region once more, on this error path only."""
    values = np.asarray(region[...])
    low, high = values.min(), values.max()
    if low == high:
        return "image is constant over its nonzero region (std = 0); it cannot be z-scored"
    spacing = float(np.spacing(np.float32(max(abs(float(low)), abs(float(high))))))
    return (
        f"image values differ (from {low} to {high}) but by less than float32 resolves at their "
        f"size (steps of {spacing:.3g} near {float(high):.3g}), so in the float32 copy "
        "nnInteractive computes in they are all the same and cannot be z-scored. Subtract the "
        "minimum (e.g. image - image.min()) or rescale the image before set_image"
    )


def check_target_buffer(buffer: Any, spatial_shape: Sequence[int] | None) -> None:
    """Validate a target buffer: 3-D, writable, of the image's spatial shape."""
    if not isinstance(buffer, (np.ndarray, torch.Tensor, SparseVolume)):
        raise TypeError(
            "target buffer must be a numpy array, torch tensor or SparseVolume; "
            f"got {type(buffer).__name__}"
        )
    if buffer.ndim != 3:
        raise ValueError(
            f"target buffer must be 3-D [X, Y, Z]; got shape {_shape_text(buffer.shape)}"
        )
    if spatial_shape is not None and tuple(buffer.shape) != tuple(spatial_shape):
        raise ValueError(
            f"target buffer must have the image's spatial shape {_shape_text(spatial_shape)}; "
            f"got {_shape_text(buffer.shape)}"
        )
    if isinstance(buffer, SparseVolume) and buffer.read_only:
        raise ValueError("target buffer is a read-only SparseVolume; pass buffer.copy()")
    if isinstance(buffer, np.ndarray):
        if not buffer.flags.writeable:
            raise ValueError("target buffer is read-only; pass a writable array")
        if any(s < 0 for s in buffer.strides):
            raise ValueError(
                "target buffer has negative strides; pass np.ascontiguousarray(buffer)"
            )


def check_ready(model_loaded: bool, image_set: bool) -> None:
    """Prompts need a loaded model and an image."""
    if not model_loaded:
        raise RuntimeError("no model loaded: call initialize_from_trained_model_folder(...) first")
    if not image_set:
        raise RuntimeError("no image set: call set_image(image) before adding prompts")


def check_supported(name: str, supported: bool) -> None:
    """Refuse a prompt type the loaded model does not take."""
    if not supported:
        raise ValueError(f"the loaded model does not support {name} prompts")


def check_point(coordinates: Any, spatial_shape: Sequence[int]) -> list[int]:
    """Validate ``(x, y, z)`` and return it rounded (Python ``round``), inside the image."""
    try:
        values = [float(c) for c in coordinates]
    except (TypeError, ValueError):
        raise ValueError(f"point must be 3 numbers (x, y, z); got {coordinates!r}") from None
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"point must be 3 finite numbers (x, y, z); got {coordinates!r}")
    rounded = [round(v) for v in values]
    if any(not 0 <= r < s for r, s in zip(rounded, spatial_shape, strict=True)):
        raise ValueError(
            f"point {tuple(rounded)} lies outside the image of shape {_shape_text(spatial_shape)}"
        )
    return rounded


def check_box(bbox: Any, spatial_shape: Sequence[int], bbox3d: bool, bbox2d: bool) -> list[float]:
    """Validate a half-open box ``[[x0, x1], [y0, y1], [z0, z1]]``; return its sizes."""
    try:
        pairs = [[float(lo), float(hi)] for lo, hi in bbox]
    except (TypeError, ValueError):
        raise ValueError(f"bbox must be [[x0, x1], [y0, y1], [z0, z1]]; got {bbox!r}") from None
    if len(pairs) != 3 or not all(math.isfinite(v) for p in pairs for v in p):
        raise ValueError(f"bbox must be 3 finite [lo, hi] pairs; got {bbox!r}")
    sizes = [hi - lo for lo, hi in pairs]
    if any(s <= 0 for s in sizes):
        raise ValueError(
            f"bbox has a zero or negative size along an axis: {bbox!r} (sizes {sizes})"
        )
    if any(hi <= 0 or lo >= s for (lo, hi), s in zip(pairs, spatial_shape, strict=True)):
        raise ValueError(
            f"bbox {bbox!r} does not overlap the image of shape {_shape_text(spatial_shape)}"
        )
    flat_axes = sum(s == 1 for s in sizes)
    if flat_axes == 0 and not bbox3d:
        raise ValueError(
            f"bbox {bbox!r} is 3-D (sizes {sizes}) but the loaded model takes 2-D boxes only: "
            "make one axis one slice thick, e.g. [z, z + 1]"
        )
    if flat_axes > 0 and not (bbox2d or bbox3d):
        raise ValueError("the loaded model does not support box prompts")
    return sizes


def check_interaction_bbox(interaction_bbox: Any, spatial_shape: Sequence[int]) -> Bbox:
    """Validate the placement bbox of a cropped scribble or lasso."""
    try:
        bbox = [[int(lo), int(hi)] for lo, hi in interaction_bbox]
    except (TypeError, ValueError):
        raise ValueError(
            f"interaction_bbox must be [[x0, x1], [y0, y1], [z0, z1]]; got {interaction_bbox!r}"
        ) from None
    if len(bbox) != 3 or any(hi <= lo for lo, hi in bbox):
        raise ValueError(f"interaction_bbox must be 3 pairs with hi > lo; got {interaction_bbox!r}")
    if any(lo < 0 or hi > s for (lo, hi), s in zip(bbox, spatial_shape, strict=True)):
        raise ValueError(
            f"interaction_bbox {bbox} exceeds the image of shape {_shape_text(spatial_shape)}"
        )
    return bbox


def check_mask_prompt(
    mask: Any, name: str, spatial_shape: Sequence[int], interaction_bbox: Any
) -> tuple[torch.Tensor, Bbox, Bbox]:
    """Validate a scribble or lasso mask.

    Returns
    -------
    mask, placement, extent
        The mask as a bool tensor, the image region it covers, and the image-space bbox of its
        nonzero voxels.
    """
    array = to_numpy(mask, name)
    if interaction_bbox is None:
        placement = [[0, int(s)] for s in spatial_shape]
    else:
        placement = check_interaction_bbox(interaction_bbox, spatial_shape)
    expected = [hi - lo for lo, hi in placement]
    if list(array.shape) != expected:
        where = "interaction_bbox size" if interaction_bbox is not None else "image's spatial shape"
        raise ValueError(
            f"{name} must have the {where} {_shape_text(expected)}; got {_shape_text(array.shape)}"
        )
    tensor = torch.from_numpy(np.asarray(array != 0))
    extent = nonzero_bbox(tensor)
    if extent is None:
        raise ValueError(f"{name} is empty: it must mark at least one voxel with 1")
    if all(hi - lo > 1 for lo, hi in extent):
        raise ValueError(
            f"{name} spans more than one slice (extent {extent}); draw it on a single 2-D slice"
        )
    return tensor, placement, shift(extent, [lo for lo, _ in placement])


def check_initial_seg(mask: Any, spatial_shape: Sequence[int]) -> torch.Tensor | SparseVolume:
    """Validate an initial segmentation of the image's spatial shape; return it as a tensor
    (a :class:`~nni_jupyter.volumes.SparseVolume` stays sparse)."""
    array = mask if isinstance(mask, SparseVolume) else to_numpy(mask, "initial segmentation")
    if tuple(array.shape) != tuple(spatial_shape):
        raise ValueError(
            "initial segmentation must have the image's spatial shape "
            f"{_shape_text(spatial_shape)}; got {_shape_text(array.shape)}"
        )
    if isinstance(array, SparseVolume):
        return array
    return torch.from_numpy(np.ascontiguousarray(array))
