"""The network exported to OpenVINO: one more candidate of ``precision="auto"`` on a CPU.

Needs the ``openvino`` extra (``pip install nni_jupyter[openvino]``); skipped without it. The
suite turns OpenVINO off (``tests/conftest.py``); these tests turn it on for themselves.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from nni_jupyter.inference import (
    autotune,
    devices,
    measure,
    nnInteractiveInferenceSession,
    openvino_backend,
    tuning,
)
from nni_jupyter.inference.candidates import FP32_EAGER, Candidate, runner_for
from nni_jupyter.inference.checkpoint import load_model_folder
from nni_jupyter.inference.precision import BF16, FP32

pytest.importorskip("openvino", reason="the openvino extra is not installed")

CPU = torch.device("cpu")
OPENVINO_BF16 = Candidate(BF16, backend=openvino_backend.BACKEND)
OPENVINO_FP32 = Candidate(FP32, backend=openvino_backend.BACKEND)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """OpenVINO on, a cache folder of this test's own, no choice remembered from another."""
    monkeypatch.setenv(openvino_backend.ENV, "1")
    monkeypatch.setenv(tuning.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(tuning, "_MEMORY", {})
    monkeypatch.setattr(autotune, "machine_busy", lambda _threads: False)
    return tmp_path / "cache" / "tuning"


def _network(folder: Path) -> torch.nn.Module:
    return load_model_folder(folder, device=CPU).network.eval()


def test_the_export_computes_the_networks_logits(model_folder: Path, tmp_path: Path) -> None:
    network = _network(model_folder)
    example = measure.probe_input(8, [8, 8, 8], CPU)
    xml = openvino_backend.export(network, example, tmp_path / "exports")
    shape = [1, 8, 24, 16, 32]  # traced small, run at another shape
    runner = openvino_backend.compile_runner(xml, shape, FP32, 1, network)
    probe = measure.probe_input(8, shape[2:], CPU)
    with torch.inference_mode():
        ours, torch_logits = runner(probe), network(probe)
        assert ours.dtype == torch.float32 and ours.shape == torch_logits.shape
        torch.testing.assert_close(ours, torch_logits, rtol=1e-3, atol=1e-3)
        agreement = (ours.argmax(1) == torch_logits.argmax(1)).float().mean().item()
        assert agreement >= 0.999
        other = measure.probe_input(8, [8, 8, 8], CPU)  # not the compiled shape: torch runs it
        assert torch.equal(runner(other), network(other))


def test_an_export_is_made_once_per_weights_and_never_left_half_done(
    model_folder: Path, tmp_path: Path
) -> None:
    network = _network(model_folder)
    example = measure.probe_input(8, [8, 8, 8], CPU)
    folder = tmp_path / "exports"
    xml = openvino_backend.export(network, example, folder)
    written = xml.stat().st_mtime_ns
    assert openvino_backend.export(network, example, folder) == xml
    assert xml.stat().st_mtime_ns == written  # read, not made again
    changed = _network(model_folder)
    with torch.no_grad():
        next(changed.parameters()).add_(1)
    assert openvino_backend.export(changed, example, folder).parent != xml.parent
    broken = _network(model_folder)  # weights not exported yet, traced on a wrong input
    with torch.no_grad():
        next(broken.parameters()).add_(2)
    wrong = measure.probe_input(3, [8, 8, 8], CPU)  # 3 channels: the network takes 8
    with pytest.raises(Exception, match="channels"):
        openvino_backend.export(broken, wrong, folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        {xml.parent.name, openvino_backend.weights_digest(changed)}
    )  # the failed export left no staging folder


def test_auto_keeps_the_export_where_it_is_fastest_and_says_so(
    model_folder: Path, image: np.ndarray, cache: Path
) -> None:
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False
    )
    heard: list[str] = []
    session.add_performance_listener(heard.append)
    session.initialize_from_trained_model_folder(model_folder)
    assert session._tuner is not None and session._tuner.may_export
    assert session.wait_until_warm(300)
    choice = session._tuner.choice
    assert choice is not None
    labels = {m.candidate.label for m in choice.measurements}
    assert {"fp32 openvino", "bf16 openvino", "fp32", "bf16 channels-last"} <= labels
    exported = next(m for m in choice.measurements if m.candidate == OPENVINO_FP32)
    assert exported.usable and exported.dice >= 0.99  # float32 in OpenVINO: fp32's masks
    best = measure.fastest(choice.measurements)
    if best.candidate.exported:  # kept only where faster than torch's winner (machine's call)
        assert choice.candidate == best.candidate and session.tuning == choice
        assert isinstance(session._runner, openvino_backend.OpenVinoRunner)
        assert f"{best.candidate.label}: " in session.performance and heard[-1].startswith(
            best.candidate.label
        )
    else:
        assert not choice.candidate.exported
    assert "openvino" in choice.table() and len(list(cache.glob("*.json"))) == 1


def _cached_openvino_choice(model_folder: Path) -> None:
    """Write the cache file a session that chose OpenVINO bf16 leaves."""
    network = _network(model_folder)
    patch = load_model_folder(model_folder, device=CPU).patch_size
    measurements = [
        measure.Measurement(FP32_EAGER, 1.0, 1.0),
        measure.Measurement(Candidate(BF16, True), 0.5, 0.99),
        measure.Measurement(OPENVINO_BF16, 0.2, 0.99),
    ]
    key = tuning.key(network, patch, "auto", openvino_backend.version())
    tuning.remember(tuning.Choice(OPENVINO_BF16, 5.0, measurements, [8, 8, 8], key=key))
    tuning._MEMORY.clear()  # as a new process: only the file is left


def test_a_cached_openvino_choice_runs_torch_until_the_export_is_read(
    model_folder: Path, image: np.ndarray
) -> None:
    _cached_openvino_choice(model_folder)
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False
    )
    session.initialize_from_trained_model_folder(model_folder)
    assert session.wait_until_warm(300)
    assert session.tuning is not None and session.tuning.source == "cache"
    assert session.tuning.candidate == OPENVINO_BF16 and session.precision == BF16
    assert isinstance(session._runner, openvino_backend.OpenVinoRunner)
    assert "bf16 openvino: 5.0x fp32 on this CPU (measured before, cached)" in (session.performance)
    reference = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False, precision="fp32"
    )
    reference.initialize_from_trained_model_folder(model_folder)
    masks = []
    for each in (session, reference):
        each.set_image(image)
        each.set_target_buffer(np.zeros(image.shape[1:], np.uint8))
        each.add_point_interaction((24, 28, 20), include_interaction=True)
        masks.append(np.asarray(each.target_buffer) > 0)
    both = (masks[0] & masks[1]).sum()
    assert masks[1].any() and 2 * both / (masks[0].sum() + masks[1].sum()) >= 0.98


def test_turned_off_it_is_neither_measured_nor_run(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(openvino_backend.ENV, "0")
    assert not openvino_backend.available()
    _cached_openvino_choice(model_folder)  # another key: made with OpenVINO on
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False
    )
    session.initialize_from_trained_model_folder(model_folder)
    assert session.wait_until_warm(300)
    assert session._tuner is not None and not session._tuner.may_export
    assert session.tuning is not None and session.tuning.source == "measured"
    assert not any(m.candidate.exported for m in session.tuning.measurements)
    with pytest.raises(RuntimeError, match="no OpenVINO runner in fp32"):
        runner_for(torch.nn.Conv3d(1, 1, 1), CPU, OPENVINO_FP32)


def test_a_script_that_ends_during_the_export_exits_cleanly(
    model_folder: Path, tmp_path: Path
) -> None:
    """The export runs on a daemon thread; the interpreter waits for it instead of tearing
    OpenVINO down under it (which aborted the process)."""
    script = textwrap.dedent(
        f"""
        import os
        os.environ["NNI_JUPYTER_CACHE_DIR"] = {str(tmp_path / "fresh")!r}
        os.environ["NNI_JUPYTER_OPENVINO"] = "1"
        from nni_jupyter.inference import nnInteractiveInferenceSession
        session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1,
                                                print_license=False)
        session.initialize_from_trained_model_folder({str(model_folder)!r})
        print("measuring on a thread:", session._tuning.is_alive())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "measuring on a thread: True" in done.stdout
    exports = tmp_path / "fresh" / "tuning" / "openvino"
    assert [p.name for p in exports.iterdir() if p.name.startswith(".export-")] == []


def test_the_expensive_path_judges_the_export_before_compiling(
    model_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "CHEAP_FORWARD", 0)  # the tiny model counts as expensive
    monkeypatch.setattr(autotune, "PROBE_VOXELS", 1)
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False,
        use_torch_compile=False,
    )  # fmt: skip
    session.initialize_from_trained_model_folder(model_folder)
    assert session.wait_until_warm(300)
    choice = session._tuner.choice if session._tuner else None
    assert choice is not None and choice.probe == [8, 8, 8]
    assert any(m.candidate.exported for m in choice.measurements)
    assert not choice.candidate.compiled


def test_a_cache_that_cannot_be_written_exports_into_the_temporary_folder(
    model_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "home_is_a_file"  # no folder can be made under it, root or not
    blocked.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    network = _network(model_folder)
    xml = openvino_backend.export(
        network, measure.probe_input(8, [8, 8, 8], CPU), blocked / "openvino"
    )
    assert xml.is_file() and xml.parent.name == openvino_backend.weights_digest(network)
    assert xml.is_relative_to(tmp_path / "tmp" / "nni_jupyter_openvino")
