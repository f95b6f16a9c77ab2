"""AutoZoom: the prediction window, the network input at a zoom factor, and the border test.

A prompt is predicted in a window of ``round(patch * zoom)`` voxels around its centre, resampled to
the network's patch. When the prediction changes much along the window's faces the object probably
continues outside it, so the window grows by 1.5x (up to 4x) and is predicted again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .channels import Decay
from .preprocess import PreprocessedImage
from .regions import Bbox, centered_bbox, clip_bbox, nonzero_bbox, to_slices
from .store import STORE_DTYPE, InteractionStore

MAX_ZOOM = 4.0
ZOOM_GROWTH = 1.5
#: Border test: zoom out when more voxels than this changed on one face ...
BORDER_MAX_CHANGED = 1500
#: ... or more than this many changed and the face's foreground grew or shrank by this fraction.
BORDER_MIN_CHANGED = 100
BORDER_MAX_RELATIVE = 0.2


def initial_zoom(extent: Sequence[int], patch_size: Sequence[int]) -> float:
    """Zoom that shows a prompt of ``extent`` voxels with a third of a patch of context (>= 1)."""
    return max(1, max((e + p // 3) / p for e, p in zip(extent, patch_size, strict=True)))


def next_zoom(zoom: float) -> float:
    """The zoom after one more zoom-out step."""
    return min(MAX_ZOOM, zoom * ZOOM_GROWTH)


def prompt_center_and_zoom(region: Bbox, patch_size: Sequence[int]) -> tuple[list[int], float]:
    """Centre (``round`` of the midpoint) and initial zoom of a box, scribble, lasso or mask."""
    center = [round((lo + hi) / 2) for lo, hi in region]
    return center, initial_zoom([hi - lo for lo, hi in region], patch_size)


def window(center: Sequence[int], patch_size: Sequence[int], zoom: float) -> Bbox:
    """The image-space window predicted at ``zoom``: ``round(patch * zoom)`` around ``center``."""
    return centered_bbox(center, [round(p * zoom) for p in patch_size])


def nearest_odd(value: float) -> int:
    """The odd integer nearest to ``value`` (> 0); ties and even roundings go up."""
    for candidate in (math.ceil(value), math.floor(value)):
        if candidate % 2 == 1:
            return candidate
    return round(value) + 1


def extreme_filter(volume: torch.Tensor, kernel: int, use_min: bool = False) -> torch.Tensor:
    """Max (or min) over a ``kernel^3`` window clipped to the volume, per voxel of a 3-D tensor.

    Separable; each axis widens the window by doubling, so it costs ~log2(kernel) passes.
    """
    if kernel <= 1:
        return volume.clone()
    combine = torch.minimum if use_min else torch.maximum
    limits = (
        torch.finfo(volume.dtype) if volume.dtype.is_floating_point else torch.iinfo(volume.dtype)
    )
    fill = limits.max if use_min else limits.min
    radius = kernel // 2
    result = volume
    for axis in range(volume.ndim):
        shape = list(result.shape)
        shape[axis] = radius
        border = result.new_full(shape, fill)
        acc = torch.cat([border, result, border], dim=axis)
        width = 1
        while width < kernel:
            step = min(width, kernel - width)
            length = acc.shape[axis] - step
            acc = combine(acc.narrow(axis, 0, length), acc.narrow(axis, step, length))
            width += step
        result = acc
    return result


def filter_nonnegative(volume: torch.Tensor, kernel: int, use_min: bool = False) -> torch.Tensor:
    """Max (or min) filter of a volume with values >= 0, computed only around its nonzero voxels
    (zeros far from them stay zeros under either filter)."""
    if kernel <= 1:
        return volume.clone()
    out = torch.zeros_like(volume)
    occupied = nonzero_bbox(volume)
    if occupied is None:
        return out
    radius = kernel // 2
    block = clip_bbox([[lo - radius, hi + radius] for lo, hi in occupied], volume.shape)
    assert block is not None, "a bbox grown around nonzero voxels overlaps their volume"
    out[to_slices(block)] = extreme_filter(volume[to_slices(block)], kernel, use_min=use_min)
    return out


def border_changed(prediction: torch.Tensor, previous: torch.Tensor) -> bool:
    """True when any face of the window changed enough to suggest the object leaves it."""
    stats = []
    for axis in range(prediction.ndim):
        for index in (0, prediction.shape[axis] - 1):
            before = previous.select(axis, index)
            after = prediction.select(axis, index)
            stats.append(before.sum(dtype=torch.float32))
            stats.append(after.sum(dtype=torch.float32))
            stats.append((before != after).sum(dtype=torch.float32))
    values = torch.stack(stats).tolist()
    for start in range(0, len(values), 3):
        n_before, n_after, n_changed = values[start : start + 3]
        relative = max(n_before, n_after) / max(min(n_before, n_after), 1e-5) - 1
        if n_changed > BORDER_MAX_CHANGED:
            return True
        if n_changed > BORDER_MIN_CHANGED and relative > BORDER_MAX_RELATIVE:
            return True
    return False


@dataclass
class NetworkInput:
    """One network input and what the border test needs.

    Attributes
    ----------
    tensor
        ``[C_image + C_interactions, *patch]`` float32 on the compute device.
    window
        Image-space bbox the input covers (may extend past the image).
    previous
        The previous segmentation resampled to the patch, for the border test.
    """

    tensor: torch.Tensor
    window: Bbox
    previous: torch.Tensor


@dataclass
class InputBuilder:
    """Builds network inputs from the image, the stored interactions and the decay state."""

    image: PreprocessedImage
    store: InteractionStore
    decay: Decay
    prev_channel: int
    dilate_channels: tuple[int, ...]
    patch_size: list[int]
    device: torch.device
    pinned: bool = False

    def build(self, center: Sequence[int], zoom: float) -> NetworkInput:
        """The network input for a window around ``center`` at ``zoom``."""
        bbox = window(center, self.patch_size, zoom)
        size = [hi - lo for lo, hi in bbox]
        if size == list(self.patch_size):
            return self.build_native(bbox)
        return self._build_zoomed(bbox, zoom)

    def _host(self, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, pin_memory=self.pinned)

    def _move(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, non_blocking=self.pinned)

    def build_native(self, bbox: Bbox, previous: torch.Tensor | None = None) -> NetworkInput:
        """The input for a patch-sized ``bbox``, optionally with ``previous`` as the previous
        segmentation instead of the stored one."""
        size = [hi - lo for lo, hi in bbox]
        image = self._host([self.image.num_channels, *size], torch.float32)
        self.image.crop_into(bbox, image)
        channels = self._host([self.store.num_channels, *size], STORE_DTYPE)
        for index in range(self.store.num_channels):
            if previous is None or index != self.prev_channel:
                self.store.read_into(index, bbox, channels[index])
        channels = self._move(channels)
        if previous is None:
            previous = channels[self.prev_channel].clone()
        else:
            channels[self.prev_channel] = previous
        self.decay.normalize_(channels, self.prev_channel)
        tensor = torch.cat((self._move(image), channels))
        return NetworkInput(tensor, bbox, previous)

    def _build_zoomed(self, bbox: Bbox, zoom: float) -> NetworkInput:
        size = [hi - lo for lo, hi in bbox]
        patch = list(self.patch_size)
        kernel = nearest_odd(2 * zoom - 1)
        channels = torch.zeros(
            [self.store.num_channels, *patch], dtype=STORE_DTYPE, device=self.device
        )
        previous = torch.zeros(patch, dtype=STORE_DTYPE, device=self.device)
        # zeros stay zeros under dilation and resampling
        filled = [i for i in range(self.store.num_channels) if not self.store.is_empty(i, bbox)]
        # as many windows at once as area_resample pools in parallel (a 256³ one is 32 MiB)
        group = max(1, torch.get_num_threads()) if self.device.type == "cpu" else 1
        for start in range(0, len(filled), group):
            windows = []
            for index in filled[start : start + group]:
                # A fresh host buffer per channel: a pinned one may still be copying.
                buffer = self._host(size, STORE_DTYPE)
                self.store.read_into(index, bbox, buffer)
                channel = self._move(buffer)
                if index == self.prev_channel:
                    previous = F.interpolate(channel[None, None], patch, mode="nearest")[0, 0]
                if index in self.dilate_channels and kernel > 1:
                    channel = filter_nonnegative(channel, kernel)
                windows.append(channel)
            pooled = area_resample(windows, patch)
            for index, values in zip(filled[start : start + group], pooled, strict=True):
                channels[index] = values
        image = self._host([self.image.num_channels, *size], torch.float32)
        self.image.crop_into(bbox, image)
        image = F.interpolate(self._move(image)[None], patch, mode="trilinear")[0]
        self.decay.normalize_(channels, self.prev_channel)
        return NetworkInput(torch.cat((image, channels)), bbox, previous)


def area_resample(windows: list[torch.Tensor], patch: list[int]) -> list[torch.Tensor]:
    """Each 3-D window area-resampled (averaged) to ``patch``.

    A CPU pools a float16 window on one core whatever the thread setting (about 0.25 s for a
    256³ window, four times a zoomed-out step's forward pass on a small network), so on a CPU the
    channels are pooled on threads of their own; each one's numbers are those of a lone call.
    """

    def one(window: torch.Tensor) -> torch.Tensor:
        return F.interpolate(window[None, None], patch, mode="area")[0, 0]

    workers = min(len(windows), torch.get_num_threads())
    if workers < 2 or windows[0].device.type != "cpu":
        return [one(window) for window in windows]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nni_jupyter-pool") as pool:
        return list(pool.map(one, windows))


def predict(network: torch.nn.Module, tensor: torch.Tensor) -> torch.Tensor:
    """Run the network on one ``[C, *patch]`` input; return the uint8 argmax ``[*patch]``."""
    logits: torch.Tensor = network(tensor[None].contiguous())
    return class_map(logits[0])


def class_map(logits: torch.Tensor) -> torch.Tensor:
    """The uint8 argmax over the classes of ``[classes, *patch]`` logits.

    Two classes (nnInteractive's background and foreground) are compared instead: the same
    result, ties and NaNs decided as ``argmax`` decides them (the first class wins a tie; a NaN
    counts as the largest, the first one found), and on a CPU hundreds of times faster (torch's
    argmax over a leading axis of two took 1.3 s at 192^3, the comparison 6 ms).
    """
    if logits.shape[0] != 2:
        return logits.argmax(0).to(torch.uint8)
    background, foreground = logits[0], logits[1]
    wins = (foreground > background) | (foreground.isnan() & ~background.isnan())
    return wins.to(torch.uint8)
