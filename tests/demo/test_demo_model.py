"""The bundled demo model: its folder, loading in both sessions, and quality floors.

The floors are far below the benchmark's (``bench/demo_quality.py``) so that only a broken
model, encoding or session trips them; the benchmark measures the real quality.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nni_jupyter.data import LABEL_VALUES, phantom
from nni_jupyter.demo import demo_model_path
from nni_jupyter.demo.synth import synth_volume
from nni_jupyter.evaluation import evaluate_object, iter_objects
from nni_jupyter.inference.layout import INFERENCE_INFO_V2

MAX_BYTES = 15 * 1024**2
PARITY_REASON = "needs the reference package: pip install 'nni_jupyter[parity]'"


@pytest.fixture(scope="module")
def model_dir():
    folder = demo_model_path()
    assert folder.is_dir(), f"the demo model folder is missing: {folder}"
    return folder


def test_official_layout(model_dir):
    for name in ("plans.json", "dataset.json", "inference_info.json", "LICENSE"):
        assert (model_dir / name).is_file(), name
    checkpoint_file = model_dir / "fold_0" / "checkpoint_final.pth"
    assert checkpoint_file.stat().st_size <= MAX_BYTES
    checkpoint = torch.load(checkpoint_file, map_location="cpu", weights_only=True)
    assert {"network_weights", "trainer_name", "init_args"} <= set(checkpoint)
    plans = json.loads((model_dir / "plans.json").read_text())
    configuration = checkpoint["init_args"]["configuration"]
    assert plans["configurations"][configuration]["patch_size"] == [64, 64, 64]
    info = json.loads((model_dir / "inference_info.json").read_text())
    assert info["supported_interactions"] == INFERENCE_INFO_V2["supported_interactions"]
    licence = (model_dir / "LICENSE").read_text().strip().splitlines()[0]
    assert licence == "Apache-2.0"


def _session(factory, model_dir):
    session = factory(
        device=torch.device("cpu"), torch_n_threads=2, do_autozoom=True, verbose=False
    )
    session.initialize_from_trained_model_folder(str(model_dir))
    return session


@pytest.fixture(scope="module")
def ours(model_dir):
    from nni_jupyter.inference import nnInteractiveInferenceSession

    return _session(nnInteractiveInferenceSession, model_dir)


@pytest.fixture(scope="module")
def held_out():
    """Phantom seed 1 (held out from training) and four of its objects."""
    image, labels = phantom(seed=1)
    wanted = ["kidney_left", "spleen", "bladder", "spine"]
    objects = {}
    for label, mask in iter_objects(labels, [LABEL_VALUES[n] for n in wanted], min_voxels=1000):
        objects.setdefault(label, mask)
    return image, [objects[LABEL_VALUES[n]] for n in wanted]


def test_loads_in_our_session(ours):
    assert ours.license is not None and ours.license.startswith("Apache-2.0")


@pytest.mark.parametrize(("first_prompt", "floor"), [("point", 0.75), ("box", 0.7)])
def test_quality_floor(ours, held_out, first_prompt, floor):
    image, objects = held_out
    buffer = np.zeros(image.shape, np.uint8)
    ours.set_image(image[None])
    ours.set_target_buffer(buffer)
    scores = [
        evaluate_object(ours, buffer, truth, first_prompt, max_interactions=1).dice[0]
        for truth in objects
    ]
    assert np.mean(scores) >= floor, f"{first_prompt}: Dice per object {np.round(scores, 3)}"


def test_held_out_shape_floor(ours):
    """Shapes of a family the model never trained on (``solids``): a 2-D box still finds them
    (the benchmark's mean is about 0.7; the phantom-only model it replaced scored 0.004)."""
    scores = []
    for seed in (0, 1):
        volume = synth_volume(seed, "solids")
        values = [int(v) for v in np.unique(volume.labels) if v > 0]
        buffer = np.zeros(volume.image.shape, np.uint8)
        ours.set_image(volume.image[None])
        ours.set_target_buffer(buffer)
        for _, truth in iter_objects(volume.labels, values, 1000):
            scores.append(evaluate_object(ours, buffer, truth, "box", max_interactions=1).dice[0])
    assert len(scores) >= 4
    assert np.mean(scores) >= 0.45, f"box on held-out solids: Dice per object {np.round(scores, 3)}"


def test_matches_the_reference_session(ours, held_out, model_dir):
    reference_module = pytest.importorskip(
        "nnInteractive.inference.inference_session", reason=PARITY_REASON
    )
    reference = _session(reference_module.nnInteractiveInferenceSession, model_dir)
    image, objects = held_out
    truth = objects[0]
    centre = tuple(int(c) for c in np.argwhere(truth).mean(0).round())
    buffers = {}
    for name, session in (("ours", ours), ("reference", reference)):
        buffers[name] = np.zeros(image.shape, np.uint8)
        session.set_image(image[None])
        session.set_target_buffer(buffers[name])
        session.reset_interactions()
    steps = [
        ("add_point_interaction", centre, True),
        ("add_point_interaction", (centre[0] + 12, centre[1], centre[2]), False),
        ("add_bbox_interaction", _box_around(truth, centre), True),
    ]
    for method, prompt, positive in steps:
        for session in (ours, reference):
            getattr(session, method)(prompt, include_interaction=positive)
        a, b = buffers["ours"] > 0, buffers["reference"] > 0
        agreement = 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)
        assert agreement >= 0.98, f"after {method}: Dice(ours, reference) = {agreement:.3f}"


def _box_around(truth: np.ndarray, centre: tuple[int, int, int]) -> list[list[int]]:
    plane = truth[:, :, centre[2]]
    xs, ys = np.nonzero(plane)
    return [
        [int(xs.min()), int(xs.max()) + 1],
        [int(ys.min()), int(ys.max()) + 1],
        [centre[2], centre[2] + 1],
    ]
