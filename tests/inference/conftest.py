"""Fixtures for the inference unit tests: a tiny random model folder and a small phantom."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nni_jupyter.inference import layout, nnInteractiveInferenceSession
from nni_jupyter.inference.checkpoint import build_network

PATCH = [56, 56, 56]


def tiny_state_dict(
    architecture: dict, seed: int = 0, background_bias: float = 0.0
) -> dict[str, torch.Tensor]:
    """Seeded random weights for ``architecture`` with 1 + 7 inputs; ``background_bias`` is
    added to the background logit of the output layer."""
    network = build_network(architecture, 1 + layout.NUM_INTERACTION_CHANNELS)
    network = network.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0, 0.3, generator=generator)
    weights = network.state_dict()
    seg_bias = [k for k in weights if "seg_layers" in k and k.endswith("bias")][-1]
    weights[seg_bias][0] += background_bias
    return weights


@pytest.fixture(scope="session")
def architecture() -> dict:
    return layout.resenc_unet_arch([4, 8, 8], [1, 1, 1])


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory, architecture: dict) -> Path:
    folder = tmp_path_factory.mktemp("model")
    plans = layout.make_plans(architecture, PATCH)
    return layout.write_model_folder(
        folder, plans, tiny_state_dict(architecture), license_text="\nTest licence\nmore text\n"
    )


@pytest.fixture(scope="session")
def quiet_model_folder(tmp_path_factory: pytest.TempPathFactory, architecture: dict) -> Path:
    """A model that predicts almost only background: AutoZoom never needs to act (fast)."""
    folder = tmp_path_factory.mktemp("quiet_model")
    plans = layout.make_plans(architecture, PATCH)
    weights = tiny_state_dict(architecture, background_bias=50.0)
    return layout.write_model_folder(folder, plans, weights, license_text="Test licence")


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    rng = np.random.default_rng(1)
    x, y, z = np.meshgrid(np.arange(48), np.arange(56), np.arange(40), indexing="ij")
    volume = 100.0 * (((x - 24) ** 2 + (y - 28) ** 2 + (z - 20) ** 2) < 10**2)
    return (volume + rng.normal(0, 5, volume.shape))[None].astype(np.float32)


@pytest.fixture
def session(model_folder: Path, image: np.ndarray) -> nnInteractiveInferenceSession:
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, max_undo_steps=40
    )
    session.initialize_from_trained_model_folder(model_folder)
    session.set_image(image)
    session.set_target_buffer(np.zeros(image.shape[1:], np.uint8))
    return session
