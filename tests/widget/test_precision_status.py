"""The Segmenter's precision: passed to the session it creates, shown in the status line (and
followed there when the session measures a faster one) and recorded in the prompt log."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nni_jupyter.inference import autotune, devices, nnInteractiveInferenceSession, tuning
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


def test_the_status_line_follows_the_precision_the_session_measures(
    model_folder: Path, image: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the tiny model counts as expensive, so it is measured on a thread, held here until the
    # Segmenter shows the fp32 that runs meanwhile
    monkeypatch.setenv(tuning.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(tuning, "_MEMORY", {})
    monkeypatch.setattr(devices, "CHEAP_FORWARD", 0)
    monkeypatch.setattr(autotune, "PROBE_VOXELS", 1)
    monkeypatch.setattr(autotune, "machine_busy", lambda _threads: False)
    go = threading.Event()
    measure_eager = autotune.measure_eager

    def held(*args: Any, **kwargs: Any) -> Any:
        go.wait(120)
        return measure_eager(*args, **kwargs)

    monkeypatch.setattr(autotune, "measure_eager", held)
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, enable_undo=False, print_license=False
    )
    session.initialize_from_trained_model_folder(str(model_folder))
    seg = Segmenter(image, session=session)
    try:
        heard: list[dict[str, str]] = []
        seg.observe(lambda change: heard.append(change["new"]), names="model_info")
        assert seg.model_info["performance"].startswith("measuring the fastest precision")
        go.set()
        assert session.wait_until_warm(300) and session.tuning is not None
        for info in (seg.annotation.model_info, seg.model_info):
            assert info["performance"] == session.performance
            assert "x fp32 on this CPU (measured); 1 thread (" in info["performance"]
            assert info["precision"] == session.precision
        # a change per choice the session made (a compiled or OpenVINO runner may follow)
        assert heard and heard[-1] == seg.model_info
        assert not any(info["performance"].startswith("measuring") for info in heard)
    finally:
        go.set()
        seg.close()
