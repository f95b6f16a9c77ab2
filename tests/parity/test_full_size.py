"""Parity at the real model's size: the nnInteractive v1.0 network shape (ResEnc-L, six stages,
102 M parameters, patch 192^3) with random weights in the official folder layout, a point and then
a box on a 200^3 image, AutoZoom off: our masks (float32) against the reference's.

Slow (four forward passes at 192^3, about 50 s each in float32 on two CPU threads) but run by
default, since only this size shows that nothing in the six-stage network or the large patch
diverges.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from _parity_models import seed_weights
from _parity_sequence import ReferenceSession, compare, make_session

from nni_jupyter.inference import layout, nnInteractiveInferenceSession
from nni_jupyter.inference.checkpoint import build_network

pytestmark = [pytest.mark.parity, pytest.mark.slow]

FEATURES = [32, 64, 128, 256, 320, 320]
BLOCKS = [1, 3, 4, 6, 6, 6]
PATCH = [192, 192, 192]
IMAGE_SHAPE = (200, 200, 200)
#: Added to the background logit: with equal biases about 90% of a window comes out foreground.
BACKGROUND_BIAS = 1.5


def write_full_size_model(folder: Path, seed: int = 0) -> Path:
    """The v1.0 network shape with seeded He-initialised weights, in the official layout."""
    architecture = layout.resenc_unet_arch(FEATURES, BLOCKS)
    network = build_network(architecture, 1 + layout.NUM_INTERACTION_CHANNELS)
    network = network.to_empty(device="cpu")
    seed_weights(network, seed)
    weights = network.state_dict()
    seg_bias = [k for k in weights if "seg_layers" in k and k.endswith("bias")][-1]
    weights[seg_bias].zero_()
    weights[seg_bias][0] = BACKGROUND_BIAS
    plans = layout.make_plans(architecture, PATCH)
    return layout.write_model_folder(folder, plans, weights, license_text="Test licence")


def ct_like(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """An int16 ``[1, X, Y, Z]`` image: a body of soft tissue holding a brighter organ, noise."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, s, dtype=np.float32) for s in shape], indexing="ij")
    image = np.full(shape, -1000, np.float32)
    image[x**2 + y**2 < 0.8**2] = 40
    image[(x - 0.1) ** 2 + y**2 + (z + 0.1) ** 2 < 0.3**2] = 120
    image += rng.normal(0, 20, shape).astype(np.float32)
    return image.astype(np.int16)[None]


@pytest.mark.timeout(1800)  # about 5 minutes on two free cores; shared runners are slower
def test_point_and_box_at_full_size_match_the_reference(tmp_path: Path) -> None:
    folder = write_full_size_model(tmp_path / "model")
    image = ct_like(IMAGE_SHAPE)
    started = time.perf_counter()
    ours, our_buffer = make_session(
        nnInteractiveInferenceSession, folder, image, autozoom=False, precision="fp32"
    )
    reference, ref_buffer = make_session(ReferenceSession, folder, image, autozoom=False)
    window = 192**3
    steps = (
        ("point", lambda s: s.add_point_interaction((110, 100, 90), include_interaction=True)),
        ("box", lambda s: s.add_bbox_interaction([[70, 150], [60, 140], [100, 101]], True)),
    )
    for name, prompt in steps:
        for session in (ours, reference):
            prompt(session)
        agreement, dice = compare(our_buffer, ref_buffer)
        foreground = int(our_buffer.sum())
        elapsed = time.perf_counter() - started
        print(
            f"full size {name}: agreement {agreement:.7f} dice {dice:.5f}, foreground ours "
            f"{foreground} reference {int(ref_buffer.sum())} ({elapsed:.0f} s)"
        )
        # not degenerate: some but not all of the window (random weights can give either)
        assert 0.01 * window < foreground < 0.95 * image[0].size, (name, foreground)
        assert agreement >= 0.999, (name, agreement)
