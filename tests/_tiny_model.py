"""A tiny random nnInteractive model folder for tests (seconds to load and run on CPU).

Private test helper: imported by the test modules as ``from _tiny_model import ...`` (pytest
puts ``tests/`` on ``sys.path`` because the folder has no ``__init__.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from nni_jupyter.inference.checkpoint import build_network
from nni_jupyter.inference.layout import (
    DEFAULT_CONFIGURATION,
    NUM_INTERACTION_CHANNELS,
    make_plans,
    resenc_unet_arch,
    write_model_folder,
)

TINY_PATCH_SIZE = [32, 32, 32]


def write_tiny_model(folder: str | Path, license_text: str | None = "CC BY-NC-SA 4.0") -> Path:
    """Write a 2-stage ResidualEncoderUNet with random weights in the official folder layout."""
    arch = resenc_unet_arch(features_per_stage=[4, 8], blocks_per_stage=[1, 1])
    torch.manual_seed(0)
    network = build_network(arch, 1 + NUM_INTERACTION_CHANNELS, initialize=True)
    plans = make_plans(arch, TINY_PATCH_SIZE, configuration=DEFAULT_CONFIGURATION)
    return write_model_folder(folder, plans, network.state_dict(), license_text=license_text)


def demo_or_tiny_model(scratch: Path, license_text: str | None = "CC BY-NC-SA 4.0") -> Path:
    """The bundled demo model when its folder is complete, else a tiny model in ``scratch``."""
    from nni_jupyter.demo import demo_model_path

    demo = Path(demo_model_path())
    return demo if (demo / "plans.json").is_file() else write_tiny_model(scratch, license_text)
