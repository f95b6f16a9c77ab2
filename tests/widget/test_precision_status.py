"""The Segmenter's precision: passed to the session it creates, shown in the status line and
recorded in the prompt log."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.weights import load_session
from nni_jupyter.widget import Segmenter


def test_segmenter_runs_shows_and_logs_the_precision_asked_for(image: np.ndarray) -> None:
    seg = Segmenter(image, model="demo", device="cpu", precision="fp32")
    try:
        assert seg.model_info["precision"] == "fp32"
        assert seg.prompt_log()["model"]["precision"] == "fp32"
    finally:
        seg.close()


def test_segmenter_refuses_an_unknown_precision(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', 'fp32'"):
        Segmenter(image, model="demo", device="cpu", precision="double")


def test_load_session_takes_the_precision() -> None:
    session = load_session("demo", device="cpu", precision="bf16")
    assert session.precision == "bf16"
