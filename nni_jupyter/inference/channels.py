"""How prompts become interaction-channel values, and how older prompts decay.

Facts follow nnInteractive 2.6.0: a point is a ball of radius 4 whose values fall from 1 at the
centre (its Euclidean distance transform, normalised); boxes are filled blocks; scribbles and lassos
are the given masks. Every new prompt is stamped at a running intensity that grows by
``1 / decay``, and the stored channels are divided by it just before the network sees them, so a
prompt ``k`` steps old weighs ``decay ** k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .regions import Bbox, clip_bbox

FP16_MAX = float(torch.finfo(torch.float16).max)
#: After a rescale the running intensity restarts here, leaving headroom below the float16 maximum.
RENORM_TARGET = FP16_MAX / 10


@lru_cache(maxsize=8)
def point_kernel(radius: int) -> np.ndarray:
    """Return the ``(2r+1)^3`` float64 point stamp: distance to the ball's outside, max 1.

    The ball holds the voxels with ``x^2 + y^2 + z^2 <= r^2``; each voxel's value is its Euclidean
    distance to the nearest voxel of the cube outside the ball, divided by the largest one.
    """
    offsets = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), axis=-1)
    inside = (grid**2).sum(-1) <= radius * radius
    outside_points = grid[~inside].reshape(-1, 1, 3)
    inside_points = grid[inside].reshape(1, -1, 3)
    squared = ((outside_points - inside_points) ** 2).sum(-1).min(axis=0)
    distance = np.zeros(inside.shape, dtype=np.float64)
    distance[inside] = np.sqrt(squared.astype(np.float64))
    kernel: np.ndarray = distance / distance.max()
    kernel.flags.writeable = False
    return kernel


def point_stamp(
    center: Sequence[int], spatial_shape: Sequence[int], radius: int, intensity: float
) -> tuple[Bbox, torch.Tensor] | None:
    """Return (image region, float16 values) of a point stamp at ``center``, clipped to the image.

    Returns None when the ball lies wholly outside the image.
    """
    kernel = point_kernel(int(radius))
    size = kernel.shape[0]
    bbox = [[c - size // 2, c + size // 2 + size % 2] for c in center]
    region = clip_bbox(bbox, spatial_shape)
    if region is None:
        return None
    part = tuple(slice(lo - b[0], hi - b[0]) for (lo, hi), b in zip(region, bbox, strict=True))
    values = torch.from_numpy(kernel[part].copy())
    if intensity != 1.0:
        values = values * intensity
    return region, values.to(torch.float16)


def box_region(bbox: Sequence[Sequence[float]], spatial_shape: Sequence[int]) -> Bbox:
    """Round a prompt box to voxels and clip it to the image, keeping >= 1 voxel per axis."""
    region = []
    for (lo, hi), size in zip(bbox, spatial_shape, strict=True):
        start, stop = max(0, round(lo)), min(int(size), round(hi))
        if stop <= start:
            if start == 0:
                stop = min(1, int(size))
            else:
                start = max(start - 1, 0)
        region.append([start, stop])
    return region


def mask_values(mask: torch.Tensor, intensity: float) -> torch.Tensor:
    """Return a 0/1 mask as float16 stamped at ``intensity`` (float16 arithmetic, as stored)."""
    values = (mask != 0).to(torch.float16)
    if intensity != 1.0:
        values *= torch.tensor(intensity, dtype=torch.float16)
    return values


@dataclass
class Decay:
    """The running stamp intensity that implements prompt decay.

    Parameters
    ----------
    decay
        Weight kept by a prompt per newer prompt, in ``(0, 1]``.
    intensity
        Value the most recent prompt was stamped at.
    """

    decay: float
    intensity: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.decay <= 1:
            raise ValueError(f"interaction_decay must be in (0, 1]; got {self.decay}")

    def advance(self) -> float | None:
        """Raise the intensity for a new prompt.

        Returns
        -------
        float or None
            The factor the stored prompt channels must be multiplied by when the intensity would
            otherwise overflow float16; None when no rescale is needed.
        """
        if self.decay == 1:
            return None
        self.intensity *= 1 / self.decay
        if self.intensity <= FP16_MAX:
            return None
        factor = RENORM_TARGET / self.intensity
        self.intensity = RENORM_TARGET
        return factor

    def normalize_(self, channels: torch.Tensor, skip_channel: int) -> None:
        """Divide every channel but ``skip_channel`` (previous segmentation) by the intensity."""
        if self.intensity == 1:
            return
        for index in range(channels.shape[0]):
            if index != skip_channel:
                channels[index] /= self.intensity

    def reset(self) -> None:
        """Start again at intensity 1 (after all prompts were cleared)."""
        self.intensity = 1.0
