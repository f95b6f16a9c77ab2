"""Image preprocessing: z-scoring with statistics from the nonzero region, done lazily per crop.

As in nnInteractive 2.6.0 there is no resampling, reorientation or clipping: mean and (unbiased)
standard deviation come from the bounding box of the image's nonzero voxels (first channel), and
the whole image is z-scored with them, in float32. Instead of holding a z-scored float32 copy of the
volume, the image is kept in its own dtype and each crop is z-scored when it is read, with the same
float32 operations, so the values the network sees are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..volumes.lazy import LazyVolume
from .regions import clip_bbox, nonzero_bbox, to_local, to_slices
from .validation import explain_all_zero, explain_constant, explain_statistics

# Rows of the first axis handled at once by the statistics passes: bounds temporaries.
_SLAB_ROWS = 16
#: Voxels the variance pass widens to float64 at once (32 MiB per temporary).
_BLOCK_VOXELS = 1 << 22


@dataclass
class PreprocessedImage:
    """A private copy of the image plus its z-score statistics.

    Attributes
    ----------
    data
        ``[C, X, Y, Z]`` copy of the image (float64 stored as float32, other dtypes unchanged),
        or a :class:`~nni_jupyter.volumes.LazyVolume` read where crops need it.
    mean, std
        float32 statistics of the nonzero region of channel 0.
    """

    data: np.ndarray | LazyVolume
    mean: torch.Tensor
    std: torch.Tensor

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)``."""
        _, x, y, z = self.data.shape
        return int(x), int(y), int(z)

    @property
    def num_channels(self) -> int:
        """Number of image channels."""
        return int(self.data.shape[0])

    def crop_into(self, bbox: Sequence[Sequence[int]], out: torch.Tensor) -> None:
        """Fill ``out`` (float32 ``[C, *size of bbox]``) with the z-scored image; 0 outside it."""
        inside = clip_bbox(bbox, self.spatial_shape)
        if inside is None:
            out.zero_()
            return
        local = to_local(inside, bbox)
        if any(lo > 0 or hi < size for (lo, hi), size in zip(local, out.shape[1:], strict=True)):
            out.zero_()
        # the index tuples are named first: mypy 2.4 misreads a starred tuple inside [] as 3.11+
        target_index = (slice(None), *to_slices(local))
        source_index = (slice(None), *to_slices(inside))
        target = out[target_index]
        source = torch.from_numpy(self.data[source_index])
        target.copy_(source)
        target.sub_(self.mean.to(target.device)).div_(self.std.to(target.device))

    def crop(self, bbox: Sequence[Sequence[int]]) -> torch.Tensor:
        """Return the z-scored image over ``bbox`` as a new float32 CPU tensor."""
        out = torch.empty([self.num_channels, *[hi - lo for lo, hi in bbox]], dtype=torch.float32)
        self.crop_into(bbox, out)
        return out


def _statistics(region: np.ndarray | LazyVolume) -> tuple[float, float]:
    """Mean and unbiased std of ``region`` in float64, slab by slab; NaN/inf propagate."""
    count = region.size
    total = 0.0
    for start in range(0, region.shape[0], _SLAB_ROWS):
        total += float(region[start : start + _SLAB_ROWS].sum(dtype=np.float64))
    mean = total / count
    squares = 0.0
    for start in range(0, region.shape[0], _SLAB_ROWS):
        squares += _squared_deviations(region[start : start + _SLAB_ROWS], mean)
    std = (squares / (count - 1)) ** 0.5 if count > 1 else float("nan")
    return mean, std


def _squared_deviations(values: np.ndarray, mean: float) -> float:
    """Sum of ``(x - mean)²`` in float64 over ``values`` taken as float32; a slab larger than
    :data:`_BLOCK_VOXELS` (a big lazy image's) row by row, so its float64 temporaries stay small."""
    if values.size > _BLOCK_VOXELS and values.ndim > 1:
        return sum(_squared_deviations(row, mean) for row in values)
    wide = values.astype(np.float32).astype(np.float64)
    return float(((wide - mean) ** 2).sum())


def preprocess_image(image: np.ndarray | LazyVolume) -> PreprocessedImage:
    """Copy ``image`` ``[C, X, Y, Z]`` and compute its z-score statistics.

    Raises
    ------
    ValueError
        If the image is all zero (or float64 too small for float32), holds NaN or inf, one
        nonzero voxel or values beyond float32, or is constant over its nonzero region (or its
        values differ by less than float32 resolves); see :mod:`.validation`'s ``explain_*``.
    """
    data: np.ndarray | LazyVolume
    channel: np.ndarray | LazyVolume
    if isinstance(image, LazyVolume):
        if image.dtype == np.float64:
            raise ValueError(
                "a lazy float64 image is not supported: store it as float32 (the session "
                "computes in float32), or pass it in memory"
            )
        data = image  # read region by region: no copy, statistics streamed slab by slab
        channel = image.view(0)
    else:
        store_dtype = np.float32 if image.dtype == np.float64 else image.dtype
        data = np.array(image, dtype=store_dtype, order="C", copy=True)
        channel = data[0]
    region = nonzero_bbox(channel)
    if region is None:
        raise ValueError(explain_all_zero(image))
    inside = to_slices(region)
    crop = channel.view(inside) if isinstance(channel, LazyVolume) else channel[inside]
    mean, std = _statistics(crop)
    if not (np.isfinite(mean) and np.isfinite(std)):
        if isinstance(image, LazyVolume):  # explaining would read the whole volume again
            raise ValueError(
                "the image's z-score statistics are not finite: it holds NaN or inf, or values "
                "beyond the float32 range nnInteractive computes in"
            )
        raise ValueError(explain_statistics(image, crop.size))
    if std == 0:
        raise ValueError(explain_constant(crop))
    return PreprocessedImage(
        data,
        torch.tensor(mean, dtype=torch.float32),
        torch.tensor(std, dtype=torch.float32),
    )
