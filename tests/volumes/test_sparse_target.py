"""A session writing into a SparseVolume target gives the masks of a numpy target, step by step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.volumes import SparseVolume

SHAPE = (72, 64, 48)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"), "Apache-2.0")


def run(model: Path, target: np.ndarray | SparseVolume) -> list[np.ndarray]:
    """Prompts, undo, redo, an initial segmentation and a reset; the target after each."""
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1, do_autozoom=True)
    session.initialize_from_trained_model_folder(str(model))
    session.set_image(nj.data.phantom(SHAPE, seed=3)[0].astype(np.int16)[None])
    session.set_target_buffer(target)
    seed = np.zeros(SHAPE, np.uint8)
    seed[10:20, 12:30, 5:9] = 1
    initial = (
        SparseVolume.from_array(seed, chunks=(16, 16, 16))
        if isinstance(target, SparseVolume)
        else seed
    )
    steps = [
        lambda: session.add_point_interaction((36, 32, 24), include_interaction=True),
        lambda: session.add_bbox_interaction([[24, 52], [18, 46], [24, 25]], True),
        session.undo,
        session.redo,
        lambda: session.add_point_interaction((50, 32, 24), include_interaction=False),
        session.undo,
        lambda: session.add_initial_seg_interaction(initial),
        lambda: session.add_point_interaction((15, 20, 7), include_interaction=True),
        session.undo,
        session.undo,
        session.reset_interactions,
    ]
    masks = []
    for step in steps:
        step()
        masks.append(np.array(np.asarray(target), copy=True))
    return masks


def test_a_sparse_target_matches_a_numpy_target(model):
    dense = run(model, np.zeros(SHAPE, np.uint8))
    assert sum(mask.any() for mask in dense) >= 6, "the sequence segments little: a weak test"
    target = SparseVolume(SHAPE, np.uint8, chunks=(16, 16, 16))
    sparse = run(model, target)
    for step, (a, b) in enumerate(zip(dense, sparse, strict=True)):
        assert np.array_equal(a, b), f"step {step} differs in {(a != b).sum()} voxels"
    assert not target.any() and target.stored_chunks == 0  # the reset dropped every chunk


def test_a_read_only_sparse_target_is_refused(model):
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    with pytest.raises(ValueError, match="read-only SparseVolume"):
        session.set_target_buffer(SparseVolume(SHAPE, read_only=True))
