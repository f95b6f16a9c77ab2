"""The step timers: silent unless a recording is open, then seconds and counts per step."""

from __future__ import annotations

import time

import numpy as np
import torch

from nni_jupyter.inference import nnInteractiveInferenceSession, timing


def test_spans_record_only_inside_a_recording() -> None:
    with timing.span("outside"):
        pass
    with timing.recording() as recorder:
        for _ in range(2):
            with timing.span("sleep"):
                time.sleep(0.01)
    with timing.span("after"):
        pass
    assert recorder.counts == {"sleep": 2}
    assert recorder.seconds["sleep"] >= 0.02


def test_a_prompt_reports_its_steps(model_folder, image: np.ndarray) -> None:
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False
    )
    session.initialize_from_trained_model_folder(model_folder)
    with timing.recording() as recorder:
        session.set_image(image)
        session.set_target_buffer(torch.zeros(image.shape[1:], dtype=torch.uint8))
        center = [s // 2 for s in image.shape[1:]]
        session.add_point_interaction(center, include_interaction=True)
    assert list(recorder.counts) == ["preprocess", "encode", "input", "forward", "paste-back"]
    assert all(seconds > 0 for seconds in recorder.seconds.values())
