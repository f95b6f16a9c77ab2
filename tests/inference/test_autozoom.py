"""Windows, zoom rules, the max/min filters and the border test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import maximum_filter, minimum_filter

from nni_jupyter.inference.autozoom import (
    MAX_ZOOM,
    border_changed,
    class_map,
    extreme_filter,
    filter_nonnegative,
    initial_zoom,
    nearest_odd,
    next_zoom,
    prompt_center_and_zoom,
    window,
)


def test_initial_zoom_adds_a_third_of_a_patch_of_context() -> None:
    assert initial_zoom([1, 30, 30], [96, 96, 96]) == 1
    assert initial_zoom([1, 100, 40], [96, 96, 96]) == pytest.approx((100 + 32) / 96)


def test_zoom_schedule_is_1_5x_capped_at_4() -> None:
    zooms = [1.0]
    while zooms[-1] < MAX_ZOOM:
        zooms.append(next_zoom(zooms[-1]))
    assert zooms == [1.0, 1.5, 2.25, 3.375, 4.0]


def test_center_rounds_the_midpoint_half_to_even() -> None:
    center, zoom = prompt_center_and_zoom([[0, 5], [2, 3], [10, 20]], [64, 64, 64])
    assert center == [2, 2, 15]
    assert zoom == 1


def test_window_is_round_patch_times_zoom_with_odd_extra_above() -> None:
    assert window([10, 10, 10], [8, 8, 8], 1.5) == [[4, 16]] * 3
    assert window([10, 10, 10], [7, 7, 7], 1) == [[7, 14]] * 3


@pytest.mark.parametrize(
    ("value", "odd"), [(1.0, 1), (1.4, 1), (2.0, 3), (3.5, 3), (5.75, 5), (7, 7)]
)
def test_nearest_odd(value: float, odd: int) -> None:
    assert nearest_odd(value) == odd


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_extreme_filter_matches_clipped_window_filters(kernel: int) -> None:
    volume = np.random.default_rng(kernel).integers(0, 50, (9, 11, 13)).astype(np.float32)
    tensor = torch.from_numpy(volume).half()
    expected_max = maximum_filter(volume, size=kernel, mode="nearest")
    expected_min = minimum_filter(volume, size=kernel, mode="nearest")
    assert np.array_equal(extreme_filter(tensor, kernel).float().numpy(), expected_max)
    assert np.array_equal(
        extreme_filter(tensor, kernel, use_min=True).float().numpy(), expected_min
    )


def test_dilation_around_nonzero_only_equals_full_dilation() -> None:
    volume = torch.zeros(30, 30, 30, dtype=torch.float16)
    volume[3, 28, 15] = 2.0
    volume[10, 10, 10] = 1.0
    assert torch.equal(filter_nonnegative(volume, 5), extreme_filter(volume, 5))


def _face_case(changed: int, before: int) -> tuple[torch.Tensor, torch.Tensor]:
    previous = torch.zeros(50, 50, 50, dtype=torch.float16)
    prediction = torch.zeros(50, 50, 50, dtype=torch.uint8)
    previous.view(50, -1)[0, :before] = 1
    prediction.view(50, -1)[0, :before] = 1
    prediction.view(50, -1)[0, before : before + changed] = 1
    return prediction, previous


def test_border_test_thresholds() -> None:
    assert not border_changed(*_face_case(changed=100, before=0))  # 100 is not > 100
    assert border_changed(*_face_case(changed=101, before=0))  # relative change is huge
    assert not border_changed(*_face_case(changed=150, before=1000))  # 15% relative
    assert border_changed(*_face_case(changed=250, before=1000))  # 25% relative
    assert border_changed(*_face_case(changed=1501, before=2000 - 1501 + 500))


def test_border_test_ignores_interior_changes() -> None:
    previous = torch.zeros(20, 20, 20, dtype=torch.float16)
    prediction = torch.zeros(20, 20, 20, dtype=torch.uint8)
    prediction[1:-1, 1:-1, 1:-1] = 1
    assert not border_changed(prediction, previous)


def test_the_class_map_of_two_classes_is_the_argmax_ties_and_nans_included() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 9, 8, 7)
    logits[1, 0] = logits[0, 0]  # ties: background (the first class) wins
    logits[1, 1, :4] = float("nan")  # NaN foreground: argmax takes it
    logits[0, 2, :3] = float("nan")  # NaN background: argmax takes it
    logits[:, 3, :2] = float("nan")  # both NaN: the first
    expected = logits.argmax(0).to(torch.uint8)
    assert torch.equal(class_map(logits), expected)
    assert expected[0].sum() == 0 and expected[1, :4].all() and expected[2, :3].sum() == 0
    three = torch.randn(3, 5, 5, 5)
    assert torch.equal(class_map(three), three.argmax(0).to(torch.uint8))
