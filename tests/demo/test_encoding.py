"""Training-side prompt encoding and windows, checked against the inference's rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nni_jupyter.demo import encoding as enc
from nni_jupyter.inference.autozoom import nearest_odd
from nni_jupyter.inference.channels import point_kernel


def _trained_point_kernel() -> torch.Tensor:
    """The point stamp the trainer writes (the inference's, at the trained radius)."""
    return torch.tensor(point_kernel(enc.POINT_RADIUS), dtype=torch.float32)


def test_point_kernel_shape_and_values():
    kernel = _trained_point_kernel()
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
    torch.testing.assert_close(_trained_point_kernel(), reference.float())


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
    assert nearest_odd(number) == odd


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


def test_own_prediction_is_pasted_where_its_window_lies():
    """The network's answer to the first prompt becomes the previous mask in volume coordinates,
    clipped where the window leaves the image."""
    from nni_jupyter.demo.simulate import SimulatedPrompt, UserSimulator, prepare_volume

    volume = prepare_volume(seed=100_000, shape=(64, 64, 64))
    simulator = UserSimulator(np.random.default_rng(0), patch_size=32, own_prediction_share=1.0)
    # a stand-in network that answers "foreground" exactly where the positive-point channel is lit
    simulator.predictor = lambda x: (x[1 + enc.POINT_POS] > 0).numpy()
    target = volume.components == 1
    for point in [(30, 30, 30), (2, 61, 5)]:
        prompt = SimulatedPrompt(enc.POINT_POS, point, [1, 1, 1], point=point)
        prev = simulator._own_prediction(volume, target, [[0, 10]] * 3, prompt)
        expected = torch.zeros((enc.NUM_INTERACTION_CHANNELS, 64, 64, 64))
        enc.stamp_point(expected[enc.POINT_POS], point, 1.0)
        assert prev.shape == target.shape and prev[point]
        np.testing.assert_array_equal(prev, expected[enc.POINT_POS].numpy() > 0)
    # too wide for one patch: AutoZoom would zoom out, so the simulator falls back
    assert simulator._own_prediction(volume, target, [[0, 60]] * 3, prompt) is None


def test_examples_with_the_networks_own_previous_mask_are_well_formed():
    from nni_jupyter.demo.simulate import UserSimulator, prepare_volume

    volume = prepare_volume(seed=100_000, shape=(64, 64, 64))
    simulator = UserSimulator(np.random.default_rng(1), patch_size=32, own_prediction_share=1.0)
    calls = []
    simulator.predictor = lambda x: calls.append(1) or (x[0] > 1.0).numpy()
    for _ in range(8):
        x, y = simulator.sample(volume)
        assert x.shape == (8, 32, 32, 32) and torch.isfinite(x).all()
        assert x[2:].sum() > 0
    assert calls, "half the examples are corrections, so the predictor must have been asked"


def test_object_share_draws_the_many_vertebrae_as_often_as_they_occur():
    from nni_jupyter.data import LABEL_VALUES
    from nni_jupyter.demo.simulate import UserSimulator, prepare_volume

    volume = prepare_volume(seed=100_000, shape=(128, 128, 128))
    spine = LABEL_VALUES["spine"]
    n_spine = sum(label == spine for _, label, _ in volume.objects)

    def spine_share(**kwargs) -> float:
        simulator = UserSimulator(np.random.default_rng(0), patch_size=64, **kwargs)
        return np.mean([simulator._pick_object(volume)[1] == spine for _ in range(600)])

    by_object = n_spine / len(volume.objects)
    assert abs(spine_share(object_share=1.0) - by_object) < 0.07
    assert spine_share() < 0.5 * by_object  # over labels, the spine is one label of many
