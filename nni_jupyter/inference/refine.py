"""Refinement after a zoomed-out prediction.

The coarse prediction is compared with the previous segmentation; the voxels where they differ
(after a 5^3 opening that drops specks) are covered greedily with patch-sized boxes, and every box
is predicted again at full resolution, each seeing the results of the boxes before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import timing
from .autozoom import InputBuilder, filter_nonnegative, predict
from .regions import (
    Bbox,
    centered_bbox,
    clip_bbox,
    nonzero_bbox,
    paste_clipped,
    shift,
    to_local,
    to_slices,
    union_bboxes,
)
from .store import STORE_DTYPE

OPENING_KERNEL = 5
BOX_MARGIN = (24, 24, 24)
MAX_COVER_DEPTH = 3
#: Candidates drawn per box when the greedy cover leaves voxels out (as in the reference).
RANDOM_DRAWS_DEEP = 25
RANDOM_DRAWS_REST = 10


def upsample_prediction(prediction: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resample a 0/1 prediction to ``size`` (trilinear, threshold 0.5), as uint8."""
    if list(prediction.shape) == list(size):
        return prediction
    resized = F.interpolate(prediction[None, None].float(), list(size), mode="trilinear")[0, 0]
    return (resized >= 0.5).to(torch.uint8)


def open_mask(mask: torch.Tensor, kernel: int = OPENING_KERNEL) -> torch.Tensor:
    """Erode then dilate a 0/1 mask with a ``kernel^3`` window clipped to the volume."""
    return filter_nonnegative(filter_nonnegative(mask, kernel, use_min=True), kernel)


def _box_core(
    center: Sequence[int], box: Sequence[int], margin: Sequence[int], shape: Sequence[int]
) -> Bbox:
    """The part of the box around ``center`` that counts as covered (box minus margin)."""
    return [
        [max(0, c - b // 2 + m), min(s, c + (b - b // 2) - m)]
        for c, b, m, s in zip(center, box, margin, shape, strict=True)
    ]


def _random_cover(
    mask: torch.Tensor, box: Sequence[int], margin: Sequence[int], draws: int, rng: Any
) -> list[Bbox]:
    """Cover ``mask`` (modified in place) with boxes around the best of ``draws`` random voxels."""
    boxes = []
    while mask.any():
        voxels = torch.nonzero(mask)
        chosen: tuple[list[int], Bbox] | None = None
        best_count = 0
        for _ in range(draws):
            center = voxels[rng.choice(len(voxels))].tolist()
            core = _box_core(center, box, margin, mask.shape)
            count = int(mask[to_slices(core)].sum())
            if count > best_count:
                chosen, best_count = (center, core), count
        if chosen is None:
            # Margins wider than half the box leave an empty core; cover the drawn voxel itself.
            chosen = center, [[c, c + 1] for c in center]
        best, best_core = chosen
        boxes.append(centered_bbox(best, box))
        mask[to_slices(best_core)] = 0
    return boxes


def cover_with_boxes(
    mask: torch.Tensor,
    box: Sequence[int],
    margin: Sequence[int] = BOX_MARGIN,
    stride: Sequence[int] | None = None,
    depth: int = 0,
    rng: Any = None,
) -> list[Bbox]:
    """Greedy set cover of a 0/1 mask by boxes of size ``box`` centred on mask voxels.

    Candidate centres lie on a grid over the mask's extent (default spacing: a quarter of it); the
    box covering most still-uncovered voxels (its ``margin`` excluded) is taken first, ties to the
    earliest candidate. Voxels left over are covered around random voxels (``rng``, default numpy's
    global generator). Boxes may extend past the mask.
    """
    rng = np.random if rng is None else rng
    extent = nonzero_bbox(mask)
    if extent is None:
        return []
    if depth > MAX_COVER_DEPTH:
        return _random_cover(mask, box, margin, RANDOM_DRAWS_DEEP, rng)
    if stride is None:
        stride = [max(1, round((hi - 1 - lo) / 4)) for lo, hi in extent]
    # The grid indexes the mask, so it must live on the mask's device (CUDA after a zoomed run).
    axes = [
        torch.arange(lo, hi, step, device=mask.device)
        for (lo, hi), step in zip(extent, stride, strict=True)
    ]
    grid = torch.cartesian_prod(*axes).reshape(-1, 3)
    candidates = grid[mask[grid[:, 0], grid[:, 1], grid[:, 2]] != 0].tolist()
    if not candidates:
        finer = [max(1, s // 2) for s in stride]
        return cover_with_boxes(mask, box, margin, finer, depth + 1, rng)
    uncovered = (mask != 0).to(torch.uint8)
    boxes = []
    while candidates and uncovered.any():
        cores = [_box_core(c, box, margin, mask.shape) for c in candidates]
        counts = torch.stack([uncovered[to_slices(core)].sum() for core in cores]).tolist()
        best = max(range(len(counts)), key=lambda i: (counts[i], -i))
        if counts[best] == 0:
            break
        boxes.append(centered_bbox(candidates[best], box))
        uncovered[to_slices(cores[best])] = 0
        candidates = [c for c in candidates if uncovered[c[0], c[1], c[2]]]
    if uncovered.any():
        boxes.extend(_random_cover(uncovered, box, margin, RANDOM_DRAWS_REST, rng))
    return boxes


def diff_region(
    coarse: torch.Tensor,
    coarse_window: Bbox,
    read_previous: Callable[[Bbox], torch.Tensor],
    planning: Bbox,
    spatial_shape: Sequence[int],
) -> torch.Tensor:
    """Opened map (over ``planning``) of where the coarse prediction differs from the previous
    segmentation, inside the part of the coarse window that lies in the image."""
    diff = torch.zeros([hi - lo for lo, hi in planning], dtype=torch.uint8, device=coarse.device)
    seen = clip_bbox(coarse_window, spatial_shape)
    if seen is None:
        return diff
    in_coarse = to_slices(to_local(seen, coarse_window))
    in_plan = to_slices(to_local(seen, planning))
    previous = read_previous(seen).to(coarse.device)
    changed = (coarse[in_coarse] != previous).to(torch.uint8)
    diff[in_plan] = open_mask(changed)
    return diff


@dataclass
class RefinementPlan:
    """Boxes to refine, in image coordinates, in the order they are predicted."""

    boxes: list[Bbox]

    @property
    def hull(self) -> Bbox:
        """Smallest bbox holding every box."""
        hull = union_bboxes(self.boxes)
        if hull is None:
            raise ValueError("a refinement plan needs at least one box; it has none")
        return hull


def plan_boxes(
    diff: torch.Tensor,
    planning: Bbox,
    patch_size: Sequence[int],
    fallback_center: Sequence[int],
    rng: Any = None,
) -> RefinementPlan:
    """Boxes covering ``diff`` (over ``planning``); one patch at the prompt when nothing changed."""
    local = cover_with_boxes(diff, patch_size, rng=rng)
    if not local:
        box = [
            [c - p // 2, c - p // 2 + p] for c, p in zip(fallback_center, patch_size, strict=True)
        ]
        return RefinementPlan([box])
    return RefinementPlan([shift(b, [lo for lo, _ in planning]) for b in local])


def refine_boxes(
    plan: RefinementPlan,
    coarse: torch.Tensor,
    coarse_window: Bbox,
    builder: InputBuilder,
    network: torch.nn.Module,
) -> torch.Tensor:
    """Predict every box of ``plan`` at full resolution, in order.

    The previous segmentation over the plan's hull starts as the stored one with the coarse
    prediction laid over it; each box's prediction is written back into it, so later boxes see
    earlier results. Returns that working segmentation over the hull (float16, compute device).
    """
    hull = plan.hull
    working = torch.empty([hi - lo for lo, hi in hull], dtype=STORE_DTYPE, device=builder.device)
    builder.store.read_into(builder.prev_channel, hull, working)
    inject = clip_bbox(coarse_window, builder.store.spatial_shape)
    if inject is not None:
        local_coarse = to_local(inject, coarse_window)
        paste_clipped(working, coarse[to_slices(local_coarse)], to_local(inject, hull))
    for box in plan.boxes:
        local = to_slices(to_local(box, hull))
        with timing.span("refine input"):
            net_input = builder.build_native(box, previous=working[local].clone())
        with timing.span("refine forward"):
            working[local] = predict(network, net_input.tensor).to(STORE_DTYPE)
    return working
