"""Fixtures for the widget tests: a real inference session on a small model, and small images.

The session is nni_jupyter's own with the bundled demo model when that is present; otherwise a tiny
random-weight model in the official folder layout (written once per test run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

from nni_jupyter.data import phantom
from nni_jupyter.inference import nnInteractiveInferenceSession

IMAGE_SHAPE = (40, 36, 32)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model when bundled, else a tiny random-weight model."""
    return demo_or_tiny_model(tmp_path_factory.mktemp("tiny_model"), "Apache-2.0")


@pytest.fixture
def make_session(model_folder: Path):
    """Return a factory of fresh, loaded CPU sessions (one per Segmenter).

    AutoZoom is off: with random weights it zooms out and refines nearly everywhere, which costs
    minutes of CPU and tests nothing of the widget (one prediction window per prompt suffices).
    """

    def make(do_autozoom: bool = False) -> nnInteractiveInferenceSession:
        session = nnInteractiveInferenceSession(
            device="cpu", torch_n_threads=2, enable_undo=False, do_autozoom=do_autozoom
        )
        session.initialize_from_trained_model_folder(str(model_folder))
        return session

    return make


@pytest.fixture(scope="session")
def image() -> np.ndarray:
    """A small CT-like phantom ``[X, Y, Z]`` (int16)."""
    return phantom(IMAGE_SHAPE, seed=3)[0]


@pytest.fixture
def make_segmenter(make_session, image):
    """Return a factory of Segmenters on ``image`` that records sent messages in ``seg.sent``;
    every Segmenter is closed after the test."""
    from nni_jupyter.widget import Segmenter

    made = []

    def make(volume: np.ndarray | None = None, **kwargs) -> Segmenter:
        seg = Segmenter(image if volume is None else volume, session=make_session(), **kwargs)
        seg.sent = []
        seg.send = lambda content, buffers=None: seg.sent.append((content, buffers))
        made.append(seg)
        return seg

    yield make
    for seg in made:
        seg.close()
