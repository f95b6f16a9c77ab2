"""Prompt encoding and decay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from nni_jupyter.inference.channels import (
    FP16_MAX,
    RENORM_TARGET,
    Decay,
    box_region,
    mask_values,
    point_kernel,
    point_stamp,
)


def test_point_kernel_is_normalised_edt_of_radius_4_ball() -> None:
    kernel = point_kernel(4)
    offsets = np.arange(-4, 5)
    x, y, z = np.meshgrid(offsets, offsets, offsets, indexing="ij")
    ball = (x**2 + y**2 + z**2) <= 16
    expected = distance_transform_edt(ball)
    np.testing.assert_array_equal(kernel, expected / expected.max())
    assert kernel.shape == (9, 9, 9)
    assert kernel[4, 4, 4] == 1.0
    assert (kernel > 0).sum() == ball.sum()


def test_point_stamp_scales_then_rounds_to_float16() -> None:
    region, values = point_stamp([10, 10, 10], (20, 20, 20), 4, intensity=1.5)
    assert region == [[6, 15], [6, 15], [6, 15]]
    expected = torch.from_numpy(point_kernel(4) * 1.5).to(torch.float16)
    assert torch.equal(values, expected)


def test_point_stamp_is_clipped_at_the_border() -> None:
    region, values = point_stamp([0, 19, 5], (20, 20, 20), 4, intensity=1.0)
    assert region == [[0, 5], [15, 20], [1, 10]]
    assert torch.equal(values, torch.from_numpy(point_kernel(4)[4:, :5, :]).half())


def test_point_stamp_wholly_outside_is_none() -> None:
    assert point_stamp([-6, 5, 5], (20, 20, 20), 4, 1.0) is None


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ([[2.4, 7.6], [0, 5], [3, 4]], [[2, 8], [0, 5], [3, 4]]),
        ([[2.5, 3.5], [0, 5], [3, 4]], [[2, 4], [0, 5], [3, 4]]),  # round half to even
        ([[-5, 30], [0, 5], [9.6, 12]], [[0, 10], [0, 5], [9, 10]]),  # clipped, kept 1 thick
        ([[0, 0.2], [0, 5], [3, 4]], [[0, 1], [0, 5], [3, 4]]),
    ],
)
def test_box_region_rounds_clips_and_keeps_one_voxel(bbox, expected) -> None:
    assert box_region(bbox, (10, 10, 10)) == expected


def test_mask_values_are_binary_times_intensity_in_float16() -> None:
    mask = torch.tensor([0, 1, 255, 0], dtype=torch.uint8)
    values = mask_values(mask, 1.25)
    assert values.dtype == torch.float16
    assert values.tolist() == [0.0, 1.25, 1.25, 0.0]


def test_decay_grows_by_inverse_decay() -> None:
    decay = Decay(0.9)
    intensities = []
    for _ in range(3):
        assert decay.advance() is None
        intensities.append(decay.intensity)
    assert intensities == pytest.approx([1 / 0.9, 1 / 0.81, 1 / 0.729])
    channels = torch.full((3, 2), decay.intensity, dtype=torch.float16)
    decay.normalize_(channels, skip_channel=0)
    assert channels[0, 0] == torch.tensor(decay.intensity, dtype=torch.float16)
    assert channels[1:].float().allclose(torch.ones(2, 2), atol=1e-3)


def test_decay_rescales_before_float16_overflow() -> None:
    decay = Decay(0.5)
    factors = [decay.advance() for _ in range(16)]
    assert factors[:15] == [None] * 15
    assert decay.intensity == RENORM_TARGET
    assert factors[15] == pytest.approx(RENORM_TARGET / 2**16)
    assert 2**16 > FP16_MAX


def test_decay_one_never_changes_and_bad_decay_is_refused() -> None:
    decay = Decay(1.0)
    decay.advance()
    assert decay.intensity == 1.0
    with pytest.raises(ValueError, match="interaction_decay"):
        Decay(0.0)
