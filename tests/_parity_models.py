"""The parity tests' model and image: a tiny random checkpoint in the official layout and a phantom.

Private test helper; the parity and CUDA conftests import its fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nni_jupyter.inference import layout
from nni_jupyter.inference.checkpoint import build_network

PATCH = [64, 64, 64]
FEATURES = [4, 8, 16, 16]
BLOCKS = [1, 1, 1, 1]


def seed_weights(network: torch.nn.Module, seed: int) -> None:
    """He-initialised convolutions, norm scales near 1 and small biases, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            if name.endswith("bias"):
                parameter.uniform_(-0.1, 0.1, generator=generator)
            elif parameter.ndim == 1:
                parameter.uniform_(0.8, 1.2, generator=generator)
            else:
                fan_in = parameter[0].numel()
                parameter.normal_(0, (2 / fan_in) ** 0.5, generator=generator)


def write_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Write a small ResidualEncoderUNet with seeded random weights in the official layout."""
    architecture = layout.resenc_unet_arch(FEATURES, BLOCKS)
    plans = layout.make_plans(architecture, PATCH)
    network = build_network(architecture, 1 + layout.NUM_INTERACTION_CHANNELS).to_empty(
        device="cpu"
    )
    seed_weights(network, seed)
    weights = network.state_dict()
    # Equal class biases in the output layer: about 4% of a window comes out foreground, enough
    # for AutoZoom and refinement to act without covering the whole image.
    seg_bias = [k for k in weights if "seg_layers" in k and k.endswith("bias")][-1]
    weights[seg_bias].zero_()
    return layout.write_model_folder(
        folder, plans, weights, license_text="Test licence\nnot for use"
    )


def phantom(shape: tuple[int, int, int] = (80, 88, 72), seed: int = 0) -> np.ndarray:
    """A float32 image ``[1, X, Y, Z]``: a sphere, a cylinder and a bright block, plus noise."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    image = np.zeros(shape, np.float32)
    image += 100 * (((x - 40) ** 2 + (y - 44) ** 2 + (z - 34) ** 2) < 15**2)
    image += 60 * (((x - 18) ** 2 + (y - 70) ** 2) < 8**2) * (z > 10) * (z < 60)
    image += 150 * ((np.abs(x - 62) < 7) & (np.abs(y - 20) < 10) & (np.abs(z - 48) < 8))
    image += rng.normal(0, 8, shape).astype(np.float32)
    return image[None]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def phantom_image() -> np.ndarray:
    return phantom()
