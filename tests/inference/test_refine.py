"""Refinement planning: the diff opening and the greedy box cover."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import maximum_filter, minimum_filter

from nni_jupyter.inference.refine import (
    _box_core,
    cover_with_boxes,
    diff_region,
    open_mask,
    plan_boxes,
    upsample_prediction,
)


def test_open_mask_matches_clipped_erosion_then_dilation() -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((20, 24, 18)) < 0.7).astype(np.uint8)
    mask[:, :, :3] = 0
    expected = maximum_filter(minimum_filter(mask, 5, mode="nearest"), 5, mode="nearest")
    assert np.array_equal(open_mask(torch.from_numpy(mask)).numpy(), expected)


def test_open_mask_drops_specks() -> None:
    mask = torch.zeros(30, 30, 30, dtype=torch.uint8)
    mask[5:8, 5:8, 5:8] = 1
    mask[15:25, 15:25, 15:25] = 1
    opened = open_mask(mask)
    assert opened[5:8, 5:8, 5:8].sum() == 0
    assert torch.equal(opened[15:25, 15:25, 15:25], mask[15:25, 15:25, 15:25])


def _covered(mask: torch.Tensor, boxes, box, margin) -> torch.Tensor:
    covered = torch.zeros_like(mask)
    for b in boxes:
        center = [lo + s // 2 for (lo, _), s in zip(b, box, strict=True)]
        core = _box_core(center, box, margin, mask.shape)
        covered[tuple(slice(lo, hi) for lo, hi in core)] = 1
    return covered


def test_cover_takes_the_box_covering_most_first_and_covers_everything() -> None:
    mask = torch.zeros(200, 60, 60, dtype=torch.uint8)
    mask[10:190, 20:40, 20:40] = 1
    box, margin = [64, 64, 64], [24, 24, 24]
    boxes = cover_with_boxes(mask, box, margin, rng=np.random.RandomState(0))
    assert all([hi - lo for lo, hi in b] == box for b in boxes)
    assert bool(((_covered(mask, boxes, box, margin) == 0) & (mask == 1)).sum() == 0)
    first_center = [lo + 32 for lo, _ in boxes[0]]
    assert mask[tuple(first_center)] == 1


def test_cover_of_empty_mask_is_empty_and_plan_falls_back_to_the_prompt() -> None:
    empty = torch.zeros(10, 10, 10, dtype=torch.uint8)
    assert cover_with_boxes(empty, [8, 8, 8]) == []
    plan = plan_boxes(empty, [[0, 10]] * 3, [8, 8, 8], [5, 6, 7])
    assert plan.boxes == [[[1, 9], [2, 10], [3, 11]]]


def test_cover_survives_margins_wider_than_half_a_box() -> None:
    mask = torch.zeros(40, 40, 40, dtype=torch.uint8)
    mask[10:20, 10:12, 10:12] = 1
    boxes = cover_with_boxes(mask, [32, 32, 32], [24, 24, 24], rng=np.random.RandomState(0))
    assert boxes and all([hi - lo for lo, hi in b] == [32] * 3 for b in boxes)


def test_upsample_prediction_thresholds_trilinear_at_half() -> None:
    prediction = torch.zeros(4, 4, 4, dtype=torch.uint8)
    prediction[1:3, 1:3, 1:3] = 1
    up = upsample_prediction(prediction, [8, 8, 8])
    assert up.dtype == torch.uint8 and up.shape == (8, 8, 8)
    assert up[3:5, 3:5, 3:5].all() and up[0].sum() == 0


def test_diff_region_is_limited_to_the_part_of_the_window_inside_the_image() -> None:
    coarse = torch.ones(20, 20, 20, dtype=torch.uint8)
    window = [[-5, 15], [0, 20], [0, 20]]
    diff = diff_region(
        coarse,
        window,
        lambda region: torch.zeros([hi - lo for lo, hi in region]),
        planning=[[0, 15], [0, 20], [0, 20]],
        spatial_shape=(30, 30, 30),
    )
    assert diff.shape == (15, 20, 20) and bool(diff.all())
