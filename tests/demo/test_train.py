"""The training script runs end to end and writes a folder our session loads."""

from __future__ import annotations

import json

import numpy as np
import torch

from nni_jupyter.demo import train


def test_two_iterations_write_a_loadable_model(tmp_path):
    out = tmp_path / "model"
    train.main(
        [
            "--out",
            str(out),
            "--iterations",
            "2",
            "--batch-size",
            "1",
            "--pool",
            "1",
            "--validation-examples",
            "1",
            "--log-every",
            "1",
        ]
    )
    notes = json.loads((out / "training.json").read_text())
    assert notes["iterations"] == 2 and notes["seed"] == 1234
    from nni_jupyter.inference import nnInteractiveInferenceSession

    # two iterations leave the weights near random: without AutoZoom one window is predicted
    session = nnInteractiveInferenceSession(
        device=torch.device("cpu"), torch_n_threads=2, do_autozoom=False
    )
    session.initialize_from_trained_model_folder(str(out))
    image = np.random.default_rng(0).normal(0, 100, (48, 48, 48)).astype(np.float32)
    buffer = np.zeros(image.shape, np.uint8)
    session.set_image(image[None])
    session.set_target_buffer(buffer)
    session.add_point_interaction((24, 24, 24), include_interaction=True)
    assert buffer.max() <= 1


def test_loss_is_low_for_a_confident_correct_prediction():
    target = torch.zeros(1, 8, 8, 8)
    target[:, 2:6, 2:6, 2:6] = 1
    logits = torch.stack([1 - target, target], 1) * 20 - 10
    good = train.segmentation_loss([logits], target)
    bad = train.segmentation_loss([-logits], target)
    assert good < 0.05 < bad
