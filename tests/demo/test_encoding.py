"""Training-side prompt encoding and windows, checked against the inference's rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nni_jupyter.demo import encoding as enc


def test_point_kernel_shape_and_values():
    kernel = enc.point_kernel()
    assert kernel.shape == (9, 9, 9)
    assert kernel[4, 4, 4] == 1.0 and kernel.max() == 1.0
    assert (
        kernel[0, 0, 0] == 0.0 and kernel[0, 4, 4] > 0
    )  # the ball x²+y²+z² <= 16 reaches the face
    assert torch.equal(kernel, kernel.flip(0)) and torch.equal(kernel, kernel.permute(2, 0, 1))


def test_point_kernel_matches_the_reference():
    point = pytest.importorskip(
        "nnInteractive.interaction.point",
        reason="needs the reference package: pip install 'nni_jupyter[parity]'",
    )
    reference = point.build_point((4, 4, 4), True, False)
    torch.testing.assert_close(enc.point_kernel(), reference.float())


def test_stamp_point_clips_at_the_border_and_takes_the_maximum():
    channel = torch.zeros(10, 10, 10)
    enc.stamp_point(channel, (0, 5, 5), weight=0.5)
    assert channel[0, 5, 5] == 0.5 and channel.max() == 0.5
    enc.stamp_point(channel, (1, 5, 5), weight=1.0)
    assert channel[1, 5, 5] == 1.0 and channel[0, 5, 5] >= 0.5
    before = channel.clone()
    enc.stamp_point(channel, (40, 5, 5))  # wholly outside: ignored
    assert torch.equal(channel, before)


@pytest.mark.parametrize(("number", "odd"), [(1, 1), (2, 3), (2.5, 3), (3.5, 3), (5.75, 5), (7, 7)])
def test_round_to_nearest_odd(number, odd):
    assert enc.round_to_nearest_odd(number) == odd


def _volume(shape=(40, 40, 40)):
    gen = torch.Generator().manual_seed(0)
    image = torch.randn(shape, generator=gen)
    interactions = torch.zeros((7, *shape))
    target = torch.zeros(shape)
    target[10:20, 10:20, 10:20] = 1
    return image, interactions, target


def test_window_at_zoom_one_is_a_zero_padded_crop():
    image, interactions, target = _volume()
    enc.stamp_point(interactions[enc.POINT_POS], (15, 15, 15))
    x, y = enc.build_window(image, interactions, target, (15, 15, 15), 1.0, 32)
    assert x.shape == (8, 32, 32, 32) and y.shape == (32, 32, 32)
    # window [-1, 31) on each axis: voxel v of the image sits at v + 1
    torch.testing.assert_close(x[0, 1:, 1:, 1:], image[:31, :31, :31])
    assert x[0, 0].abs().sum() == 0
    assert x[1 + enc.POINT_POS, 16, 16, 16] == 1.0
    assert torch.equal(y[1:, 1:, 1:], target[:31, :31, :31])


def test_zoomed_window_keeps_small_prompts_visible():
    image, interactions, target = _volume((64, 64, 64))
    enc.stamp_point(interactions[enc.POINT_POS], (30, 30, 30))
    x, y = enc.build_window(image, interactions, target, (30, 30, 30), 2.25, 32)
    assert x.shape == (8, 32, 32, 32)
    point = x[1 + enc.POINT_POS]
    assert point.max() > 0.5  # dilated before area resizing, so it does not average away
    assert y.sum() > 0 and y.max() == 1
    # outside the image (window reaches past it) everything is zero
    assert x[:, -1].abs().sum() == 0


def test_window_wholly_outside_is_empty():
    image, interactions, target = _volume()
    x, y = enc.build_window(image, interactions, target, (200, 200, 200), 1.0, 16)
    assert x.abs().sum() == 0 and y.sum() == 0


def test_simulator_examples_are_well_formed():
    from nni_jupyter.demo.simulate import UserSimulator, prepare_volume

    volume = prepare_volume(seed=100_000, shape=(64, 64, 64))
    simulator = UserSimulator(np.random.default_rng(0), patch_size=32)
    nonempty = 0
    for _ in range(12):
        x, y = simulator.sample(volume)
        assert x.shape == (8, 32, 32, 32) and y.shape == (32, 32, 32)
        assert torch.isfinite(x).all()
        assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
        assert x[1:].min() >= 0 and x[1:].max() <= 1.0 + 1e-6  # decayed prompts never exceed 1
        assert x[2:].sum() > 0, "every example carries at least one prompt"
        nonempty += int(y.sum() > 0)
    assert nonempty >= 10
