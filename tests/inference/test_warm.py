"""Compiling in the background: the eager network answers until the compiled one is ready.

These run the real ``torch.compile`` (inductor, on the CPU here: it needs a C++ compiler, which
CI's image has), on small networks so the compile takes seconds.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.inference.warm import FAILED, READY, WAITING, CompilingRunner


def _network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv3d(2, 4, 3, padding=1), torch.nn.LeakyReLU(), torch.nn.Conv3d(4, 2, 1)
    ).eval()


def test_runs_eager_until_compiled_then_compiled() -> None:
    network = _network()
    runner = CompilingRunner(network)
    example = torch.randn(1, 2, 12, 12, 12)
    with torch.inference_mode():
        eager = runner(example)
    assert runner.state == WAITING and not runner.ready and not runner.wait(0)
    assert runner.compile_now(example, torch.inference_mode)
    assert runner.state == READY and runner.ready and runner.wait(0)
    with torch.inference_mode():
        compiled = runner(example)
    torch.testing.assert_close(compiled, eager, atol=1e-5, rtol=1e-5)
    # a second session sharing the network does not compile it again
    assert not runner.compile_now(example, torch.inference_mode)


def test_a_failed_compile_warns_and_stays_eager() -> None:
    network = _network()
    runner = CompilingRunner(network, lambda net: torch.compile(net, backend="no-such-backend"))
    example = torch.randn(1, 2, 8, 8, 8)
    with pytest.warns(UserWarning, match="compiling the network failed.*uncompiled"):
        assert not runner.compile_now(example, torch.inference_mode)
    assert runner.state == FAILED and runner.error is not None and not runner.ready
    with torch.inference_mode():
        torch.testing.assert_close(runner(example), network(example))


def _masks(session: nnInteractiveInferenceSession, image: np.ndarray) -> list[np.ndarray]:
    target = np.zeros(image.shape[1:], dtype=np.uint8)
    session.set_image(image)
    session.set_target_buffer(target)
    session.refinement_rng = np.random.default_rng(0)
    masks = []
    for point in ((20, 24, 24), (30, 20, 26)):
        session.add_point_interaction(point, include_interaction=True)
        masks.append(target.copy())
    return masks


def _session(
    folder: Path, compile_setting: bool | str, precision: str
) -> nnInteractiveInferenceSession:
    """A one-thread CPU session of ``folder``, AutoZoom off."""
    made = nnInteractiveInferenceSession(
        device="cpu",
        use_torch_compile=compile_setting,
        torch_n_threads=1,
        do_autozoom=False,
        precision=precision,
        print_license=False,
    )
    made.initialize_from_trained_model_folder(folder)
    return made


def test_a_compiling_session_gives_the_eager_masks(model_folder: Path, image: np.ndarray) -> None:
    """Prompts before the compile ends run eagerly; after it, the compiled network gives the
    same masks as an eager session (float32)."""
    eager = _session(model_folder, False, "fp32")
    assert eager.wait_until_warm(0) and not eager.compiled  # no warm-up thread on the CPU
    expected = _masks(eager, image)
    compiling = _session(model_folder, True, "fp32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a failed compile would warn
        early = _masks(compiling, image)  # while compiling (or just after: both must agree)
        assert compiling.wait_until_warm(600)
    assert compiling.compiled
    late = _masks(compiling, image)
    for want, first, then in zip(expected, early, late, strict=True):
        assert want.any()
        np.testing.assert_array_equal(first, want)
        assert (then == want).mean() > 0.9999


def test_auto_compiles_an_expensive_bf16_network_on_the_cpu_with_frozen_weights(
    model_folder: Path, image: np.ndarray, monkeypatch
) -> None:
    """``use_torch_compile="auto"`` on a CPU compiles a network whose pass is expensive, run in
    bfloat16 (the tests' model counts as one here), and its masks stay those of the eager pass."""
    from torch._dynamo.utils import counters

    from nni_jupyter.inference import devices
    from nni_jupyter.inference.warm import compiling_runner

    assert not _session(
        model_folder, "auto", "bf16"
    ).use_torch_compile  # cheap: not worth a compile
    monkeypatch.setattr(devices, "CHEAP_FORWARD", 0)
    compiling = _session(model_folder, "auto", "bf16")
    assert compiling.use_torch_compile and compiling_runner(compiling._runner) is not None
    assert compiling.wait_until_warm(600) and compiling.compiled
    expected = _masks(_session(model_folder, False, "bf16"), image)
    graphs = counters["stats"]["unique_graphs"]
    masks = _masks(compiling, image)
    assert counters["stats"]["unique_graphs"] == graphs  # the prompts ran what was compiled
    # random weights put most voxels near a tie, so fused, reordered bf16 sums flip a few
    # (0.97 here; bf16 against fp32 on them: tests/inference/test_precision.py allows 0.9)
    for want, got in zip(expected, masks, strict=True):
        assert want.any()
        assert 2 * (want & got).sum() / (want.sum() + got.sum()) > 0.95
