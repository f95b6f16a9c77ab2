"""Prompt encoding and network-input windows, built with the inference's own functions.

The demo model is trained on inputs built by this module from the point stamp, window, pooling
kernel and max filter of ``nni_jupyter.inference``, which follow the nnInteractive inference:
8 channels ``[image z-scored, prev_seg, bbox/lasso +, bbox/lasso -, point +, point -, scribble +,
scribble -]``; points are radius-4
balls of normalised distance-transform values; boxes are filled blocks one voxel thick; older
prompts weigh ``decay ** age``; a zoomed-out window dilates the point and scribble channels by
max pooling, then resizes the interaction channels with ``area`` and the image with
``trilinear`` interpolation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..inference.autozoom import extreme_filter, nearest_odd
from ..inference.channels import point_stamp
from ..inference.layout import INFERENCE_INFO_V2, NUM_INTERACTION_CHANNELS
from ..inference.regions import centered_bbox, to_slices

# interaction-channel indices, from the layout the trained model is written with (the network
# input adds the image in front: +1)
_CHANNELS = INFERENCE_INFO_V2["channel_mapping"]
PREV_SEG = _CHANNELS["prev_seg"]
BBOX_POS, BBOX_NEG = _CHANNELS["bbox2d"]
POINT_POS, POINT_NEG = _CHANNELS["points"]
SCRIBBLE_POS, SCRIBBLE_NEG = _CHANNELS["scribble"]
DILATED_WHEN_ZOOMED = (POINT_POS, POINT_NEG, SCRIBBLE_POS, SCRIBBLE_NEG)
POINT_RADIUS = INFERENCE_INFO_V2["point_radius"]


def stamp_point(channel: torch.Tensor, position: tuple[int, int, int], weight: float = 1.0) -> None:
    """Max-write the inference's point stamp (float16 values) at ``position`` into a 3-D channel."""
    stamp = point_stamp(position, channel.shape, POINT_RADIUS, weight)
    if stamp is None:
        return
    region, values = stamp
    view = channel[to_slices(region)]
    torch.maximum(view, values.to(view.dtype), out=view)


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
    window = centered_bbox(centre, [scaled] * 3)
    shape = image.shape
    valid = [[max(lo, 0), min(hi, n)] for (lo, hi), n in zip(window, shape, strict=True)]
    x = torch.zeros((1 + NUM_INTERACTION_CHANNELS, patch_size, patch_size, patch_size))
    y = torch.zeros((patch_size, patch_size, patch_size))
    if any(hi <= lo for lo, hi in valid):
        return x, y
    crop = tuple(slice(lo, hi) for lo, hi in valid)
    image_crop = image[crop].float()
    every_channel: tuple[slice, ...] = (slice(None), *crop)
    inter_crop = interactions[every_channel].float()
    target_crop = target[crop].float()
    if scaled == patch_size:
        out = tuple(slice(v[0] - w[0], v[1] - w[0]) for v, w in zip(valid, window, strict=True))
        image_out: tuple[int | slice, ...] = (0, *out)
        channels_out: tuple[slice, ...] = (slice(1, None), *out)
        x[image_out] = image_crop
        x[channels_out] = inter_crop
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
    kernel = nearest_odd(zoom * 2 - 1)
    if kernel > 1:
        for channel in DILATED_WHEN_ZOOMED:
            if inter_crop[channel].any():
                inter_crop[channel] = extreme_filter(inter_crop[channel], kernel)
    image_out = (0, *out)
    channels_out = (slice(1, None), *out)
    x[image_out] = F.interpolate(image_crop[None, None], size, mode="trilinear")[0, 0]
    x[channels_out] = F.interpolate(inter_crop[None], size, mode="area")[0]
    y[out] = (F.interpolate(target_crop[None, None], size, mode="area")[0, 0] >= 0.5).float()
    return x, y
