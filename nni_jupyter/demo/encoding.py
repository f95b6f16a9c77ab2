"""Prompt encoding and network-input windows, exactly as the inference builds them.

The demo model is trained on inputs built by this module, which follows the nnInteractive
inference (see ``docs/reference`` in the shared notes): 8 channels ``[image z-scored, prev_seg,
bbox/lasso +, bbox/lasso -, point +, point -, scribble +, scribble -]``; points are radius-4
balls of normalised distance-transform values; boxes are filled blocks one voxel thick; older
prompts weigh ``decay ** age``; a zoomed-out window dilates the point and scribble channels by
max pooling, then resizes the interaction channels with ``area`` and the image with
``trilinear`` interpolation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

# interaction-channel indices (the network input adds the image in front: +1)
PREV_SEG = 0
BBOX_POS, BBOX_NEG = 1, 2
POINT_POS, POINT_NEG = 3, 4
SCRIBBLE_POS, SCRIBBLE_NEG = 5, 6
NUM_INTERACTION_CHANNELS = 7
DILATED_WHEN_ZOOMED = (POINT_POS, POINT_NEG, SCRIBBLE_POS, SCRIBBLE_NEG)
POINT_RADIUS = 4


@lru_cache(maxsize=4)
def point_kernel(radius: int = POINT_RADIUS) -> torch.Tensor:
    """The stamp of one point: ``x²+y²+z² <= r²`` on a ``(2r+1)³`` grid, valued by its distance
    to the nearest voxel outside the ball (within the grid), divided by the maximum."""
    axis = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    inside = (grid**2).sum(1) <= radius * radius
    gaps = grid[inside][:, None, :] - grid[~inside][None, :, :]
    distances = np.sqrt((gaps**2).sum(-1)).min(1)
    values = np.zeros(len(grid))
    values[inside] = distances / distances.max()
    size = 2 * radius + 1
    return torch.from_numpy(values.reshape(size, size, size).astype(np.float32))


def stamp_point(channel: torch.Tensor, position: tuple[int, int, int], weight: float = 1.0) -> None:
    """Max-write a point stamp at ``position`` (rounded voxel coordinates) into a 3-D channel."""
    kernel = point_kernel() * weight
    r = kernel.shape[0] // 2
    dst, src = [], []
    for p, n in zip(position, channel.shape, strict=True):
        lo, hi = p - r, p + r + 1
        if hi <= 0 or lo >= n:
            return
        dst.append(slice(max(lo, 0), min(hi, n)))
        src.append(slice(max(lo, 0) - lo, min(hi, n) - lo))
    region = channel[tuple(dst)]
    torch.maximum(region, kernel[tuple(src)], out=region)


def round_to_nearest_odd(number: float) -> int:
    """Nearest odd integer, rounding up on even ceilings (the inference's pooling-kernel rule)."""
    if math.ceil(number) % 2 == 1:
        return math.ceil(number)
    if math.floor(number) % 2 == 1:
        return math.floor(number)
    return round(number) + 1


def window_bbox(centre: tuple[int, int, int], size: list[int]) -> list[list[int]]:
    """Half-open window of ``size`` around ``centre`` (may reach outside the image)."""
    return [[c - s // 2, c + s // 2 + s % 2] for c, s in zip(centre, size, strict=True)]


def build_window(
    image: torch.Tensor,
    interactions: torch.Tensor,
    target: torch.Tensor,
    centre: tuple[int, int, int],
    zoom: float,
    patch_size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Network input and target for a window of ``round(patch_size * zoom)`` around ``centre``.

    Parameters
    ----------
    image
        ``[X, Y, Z]`` z-scored image.
    interactions
        ``[7, X, Y, Z]`` interaction channels, decay weights already applied.
    target
        ``[X, Y, Z]`` 0/1 ground truth of the object.
    centre, zoom, patch_size
        Window centre (voxels), zoom-out factor (1 to 4) and network patch edge.

    Returns
    -------
    tuple of torch.Tensor
        ``[8, P, P, P]`` float32 input and ``[P, P, P]`` float32 0/1 target, zero outside the image.
    """
    scaled = round(patch_size * zoom)
    window = window_bbox(centre, [scaled] * 3)
    shape = image.shape
    valid = [[max(lo, 0), min(hi, n)] for (lo, hi), n in zip(window, shape, strict=True)]
    x = torch.zeros((1 + NUM_INTERACTION_CHANNELS, patch_size, patch_size, patch_size))
    y = torch.zeros((patch_size, patch_size, patch_size))
    if any(hi <= lo for lo, hi in valid):
        return x, y
    crop = tuple(slice(lo, hi) for lo, hi in valid)
    image_crop = image[crop].float()
    inter_crop = interactions[(slice(None), *crop)].float()
    target_crop = target[crop].float()
    if scaled == patch_size:
        out = tuple(slice(v[0] - w[0], v[1] - w[0]) for v, w in zip(valid, window, strict=True))
        x[(0, *out)] = image_crop
        x[(slice(1, None), *out)] = inter_crop
        y[out] = target_crop
        return x, y
    factor = patch_size / scaled
    out_lo = [round((v[0] - w[0]) * factor) for v, w in zip(valid, window, strict=True)]
    out_hi = [
        max(lo + 1, round((v[1] - w[0]) * factor))
        for lo, v, w in zip(out_lo, valid, window, strict=True)
    ]
    size = [hi - lo for lo, hi in zip(out_lo, out_hi, strict=True)]
    out = tuple(slice(lo, hi) for lo, hi in zip(out_lo, out_hi, strict=True))
    kernel = round_to_nearest_odd(zoom * 2 - 1)
    if kernel > 1:
        for channel in DILATED_WHEN_ZOOMED:
            if inter_crop[channel].any():
                inter_crop[channel] = max_filter(inter_crop[channel], kernel)
    x[(0, *out)] = F.interpolate(image_crop[None, None], size, mode="trilinear")[0, 0]
    x[(slice(1, None), *out)] = F.interpolate(inter_crop[None], size, mode="area")[0]
    y[out] = (F.interpolate(target_crop[None, None], size, mode="area")[0, 0] >= 0.5).float()
    return x, y


def max_filter(volume: torch.Tensor, kernel: int) -> torch.Tensor:
    """Cubic max filter of odd size ``kernel``, 'same' output, as three 1-D passes (fast)."""
    out = volume[None, None]
    for axis in range(3):
        size = [1, 1, 1]
        size[axis] = kernel
        padding = [0, 0, 0]
        padding[axis] = kernel // 2
        out = F.max_pool3d(out, size, stride=1, padding=padding)
    return out[0, 0]
