"""Fixtures for the reliability tests: a loaded CPU session factory, a small image, Segmenters.

The session is nni_jupyter's own with the bundled demo model when present, else the tiny
random-weight model of ``tests/_tiny_model.py`` (written once per run). AutoZoom is off for speed
(as in ``tests/widget/conftest.py``).
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
    return demo_or_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture
def make_session(model_folder: Path):
    """Return a factory of fresh, loaded CPU sessions (AutoZoom off)."""

    def make(**kwargs) -> nnInteractiveInferenceSession:
        kwargs.setdefault("do_autozoom", False)
        session = nnInteractiveInferenceSession(
            device="cpu", torch_n_threads=2, enable_undo=False, **kwargs
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
    """Return a factory of Segmenters that record sent messages in ``seg.sent``; all are closed
    after the test."""
    from nni_jupyter.widget import Segmenter

    made = []

    def make(volume: np.ndarray | None = None, **kwargs):
        kwargs.setdefault("session", make_session())
        seg = Segmenter(image if volume is None else volume, **kwargs)
        seg.sent = []
        seg.send = lambda content, buffers=None: seg.sent.append((content, buffers))
        made.append(seg)
        return seg

    yield make
    for seg in made:
        seg.close()
