"""``precision="auto"`` on a CPU measures: candidates, the Dice gate, the cache, the session.

Each test points the cache at its own folder; the networks are tiny and the budgets short.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import nni_jupyter as nj
from nni_jupyter.annotation.sessions import model_info
from nni_jupyter.inference import (
    autotune,
    devices,
    measure,
    nnInteractiveInferenceSession,
    tuning,
)
from nni_jupyter.inference.candidates import FP32_EAGER, Candidate, eager_candidates, runner_for
from nni_jupyter.inference.precision import BF16, FP16, FP32

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test's own, and no choice remembered from another test."""
    monkeypatch.setenv(tuning.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(tuning, "_MEMORY", {})
    monkeypatch.setattr(autotune, "machine_busy", lambda _threads: False)  # a shared CI box
    return tmp_path / "cache" / "tuning"


def test_the_suite_keeps_its_measurements_in_a_temporary_folder() -> None:
    # by path: several test folders hold a conftest.py, and which one the name "conftest"
    # stands for depends on the collection order
    path = Path(__file__).parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("suite_conftest", path)
    assert spec is not None and spec.loader is not None
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    assert suite.CACHE_ENV == tuning.CACHE_ENV


def _network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv3d(8, 8, 3, padding=1), torch.nn.LeakyReLU(), torch.nn.Conv3d(8, 2, 1)
    ).eval()


def test_candidate_labels_round_trip_and_fp16_only_where_the_cpu_has_it() -> None:
    for candidate in (Candidate(), Candidate(BF16, True), Candidate(FP16, True, True)):
        assert Candidate.from_label(candidate.label) == candidate
    assert Candidate(BF16, True, True).label == "bf16 channels-last compiled"
    with pytest.raises(ValueError, match="starts with fp32, bf16 or fp16; got 'float32'"):
        Candidate.from_label("float32")
    plain = eager_candidates({"avx2", "avx512_bf16"})
    assert plain[0] == FP32_EAGER and {c.precision for c in plain} == {FP32, BF16}
    assert len(plain) == 4 and sum(c.channels_last for c in plain) == 2
    assert FP16 in {c.precision for c in eager_candidates({"avx512_fp16"})}
    assert FP16 not in {c.precision for c in eager_candidates({"avx512_fp16"}, fp16=False)}


def test_the_fastest_candidate_whose_masks_agree_is_chosen() -> None:
    """A candidate faster than all but with other masks is measured and never chosen."""
    network = _network()
    probe = measure.probe_input(8, [12, 12, 12], CPU)
    runs = measure.callables(network, CPU, [FP32_EAGER, Candidate(FP32, True)])

    def wrong(tensor: torch.Tensor) -> torch.Tensor:  # instant, and the classes swapped
        return -network(tensor[:, :, :1, :1, :1]).expand(1, 2, *tensor.shape[2:])

    runs[Candidate(BF16)] = wrong
    found = {m.candidate: m for m in measure.time_candidates(runs, probe, budget_s=0.05)}
    assert found[FP32_EAGER].dice == 1.0 and found[FP32_EAGER].usable
    assert found[Candidate(FP32, True)].dice > 0.999  # channels-last: same numbers
    assert found[Candidate(BF16)].dice < measure.MIN_DICE and not found[Candidate(BF16)].usable
    assert found[Candidate(BF16)].seconds < found[FP32_EAGER].seconds
    assert measure.fastest(list(found.values())).candidate in (FP32_EAGER, Candidate(FP32, True))


def test_a_candidate_that_fails_is_reported_and_fp32_is_required() -> None:
    network = _network()
    probe = measure.probe_input(8, [8, 8, 8], CPU)

    def broken(_tensor: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("no kernel for this")

    runs = {FP32_EAGER: network, Candidate(BF16): broken}
    found = {m.candidate: m for m in measure.time_candidates(runs, probe, budget_s=0.0)}
    assert "RuntimeError: no kernel for this" in found[Candidate(BF16)].error
    assert measure.fastest(list(found.values())).candidate == FP32_EAGER
    with pytest.raises(ValueError, match="float32 eager candidate is the baseline"):
        measure.time_candidates({Candidate(BF16): network}, probe, 0.0)


def test_the_probe_of_an_expensive_network_keeps_its_deepest_stage_two_voxels_wide() -> None:
    network = torch.nn.Module()
    network.encoder = torch.nn.Module()
    network.encoder.strides = [1, 2, 2, 2, 2, [2, 2, 1]]  # the v1.0 strides, last one per axis
    assert measure.probe_shape(network, [192, 192, 192], 64**3) == [64, 64, 32]
    assert measure.probe_shape(network, [48, 48, 48], 64**3) == [48, 48, 48]  # small: as is


def _session(folder: Path, **options: object) -> nnInteractiveInferenceSession:
    made = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, do_autozoom=False, print_license=False, **options
    )
    made.initialize_from_trained_model_folder(folder)
    return made


def test_auto_measures_a_cheap_network_while_loading_and_caches_the_figures(
    model_folder: Path, image: np.ndarray, cache: Path
) -> None:
    session = _session(model_folder)
    choice = session.tuning
    assert choice is not None and choice.source == "measured"
    assert session.precision == choice.candidate.precision
    chosen = next(m for m in choice.measurements if m.candidate == choice.candidate)
    fp32 = next(m for m in choice.measurements if m.candidate == FP32_EAGER)
    assert chosen.usable and chosen == measure.fastest(choice.measurements)
    assert all(chosen.seconds <= m.seconds for m in choice.measurements if m.usable) or (
        chosen.candidate == FP32_EAGER  # fp32 kept: nothing beat it by more than 5%
    )
    assert choice.speedup == pytest.approx(fp32.seconds / chosen.seconds)
    assert choice.speedup >= 1.0  # never slower than fp32, as measured
    assert "x fp32 on this CPU (measured)" in session.performance
    assert "1 thread (" in session.performance
    assert f"{choice.candidate.label} " in choice.table() and "<- auto" in choice.table()
    files = list(cache.glob("*.json"))
    assert len(files) == 1
    saved = json.loads(files[0].read_text())
    assert saved["chosen"] == choice.candidate.label and saved["key"]["threads"] == 1
    # the masks are those of the chosen candidate run by hand
    session.set_image(image)
    session.set_target_buffer(np.zeros(image.shape[1:], np.uint8))
    session.add_point_interaction((24, 28, 20), include_interaction=True)
    with devices.inference(CPU):
        probe = measure.probe_input(8, [56, 56, 56], CPU)
        by_hand = runner_for(session.network, CPU, choice.candidate)(probe)
        assert torch.equal(session._runner(probe), by_hand)


def test_model_info_says_what_was_chosen_and_why(model_folder: Path) -> None:
    session = _session(model_folder)
    info = model_info(session, "tiny")
    assert info["performance"] == session.performance
    assert "x fp32 on this CPU" in info["performance"] and "thread" in info["performance"]


def test_a_second_process_reads_the_cache(model_folder: Path, monkeypatch) -> None:
    first = _session(model_folder).tuning
    assert first is not None
    monkeypatch.setattr(tuning, "_MEMORY", {})  # as a new process: only the file is left
    second = _session(model_folder).tuning
    assert second is not None and second.source == "cache"
    assert second.candidate == first.candidate and second.speedup == first.speedup
    assert "measured before, cached" in second.reason


def test_figures_from_a_busy_machine_are_not_cached(model_folder: Path, cache: Path, monkeypatch):
    monkeypatch.setattr(autotune, "machine_busy", lambda _threads: True)
    choice = _session(model_folder).tuning
    assert choice is not None and choice.busy and "busy machine, not cached" in choice.reason
    assert not list(cache.glob("*.json"))
    assert tuning.machine_busy(10**6) is False  # no machine has a million runnable threads


def test_fp32_stays_unless_another_is_clearly_faster() -> None:
    fp32 = measure.Measurement(FP32_EAGER, 1.0, 1.0)
    close = measure.Measurement(Candidate(BF16), 0.97, 0.99)
    clear = measure.Measurement(Candidate(BF16, True), 0.5, 0.99)
    assert measure.fastest([fp32, close]).candidate == FP32_EAGER  # 3%: noise
    assert measure.fastest([fp32, close, clear]).candidate == Candidate(BF16, True)


def test_a_damaged_cache_file_is_measured_again(model_folder: Path, cache: Path, monkeypatch):
    _session(model_folder)
    (file,) = cache.glob("*.json")
    file.write_text("{not json")
    monkeypatch.setattr(tuning, "_MEMORY", {})
    again = _session(model_folder).tuning
    assert again is not None and again.source == "measured"


def test_forced_precisions_and_other_devices_do_not_measure(model_folder: Path) -> None:
    session = _session(model_folder, precision="fp32")
    assert session.tuning is None and not session.measures_precision
    assert session.performance.startswith("fp32 (asked for); 1 thread")


def test_an_expensive_network_is_measured_on_a_thread_while_fp32_answers(
    model_folder: Path, monkeypatch
) -> None:
    monkeypatch.setattr(devices, "CHEAP_FORWARD", 0)  # the tiny model counts as expensive
    monkeypatch.setattr(autotune, "PROBE_VOXELS", 1)  # ... so it is probed small
    session = _session(model_folder, use_torch_compile=False)
    assert session._tuner is not None and not session._tuner.cheap
    assert session.wait_until_warm(300)
    choice = session.tuning
    assert choice is not None and not choice.candidate.compiled
    assert choice.probe == [8, 8, 8]  # the tiny model's three stages shrink by 4: 2 x 4
    assert session.precision == choice.candidate.precision
    assert "measuring" not in session.performance


@pytest.mark.slow  # compiles the tiny network (about half a minute on two shared cores)
def test_compile_true_compiles_the_winner_and_records_its_ratio(
    model_folder: Path, monkeypatch
) -> None:
    monkeypatch.setattr(devices, "CHEAP_FORWARD", 0)
    session = _session(model_folder, use_torch_compile=True)
    assert session.wait_until_warm(600)
    choice = session.tuning
    assert choice is not None and choice.candidate.compiled and session.compiled
    assert choice.compile_ratio is not None and choice.compile_ratio > 0
    assert "compiled / uncompiled at the real patch" in choice.table()


def test_benchmark_device_prints_the_cpu_and_the_table(
    model_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = torch.get_num_threads()
    try:
        choice = nj.benchmark_device(model_folder, threads=1, budget_s=0.05)
    finally:
        torch.set_num_threads(before)
    printed = capsys.readouterr().out
    assert printed.startswith(f"{model_folder.name} on ") and "1 thread (" in printed
    assert "candidate" in printed and "<- auto" in printed
    labels = {m.candidate.label for m in choice.measurements}
    assert {"fp32", "fp32 channels-last", "bf16", "bf16 channels-last"} <= labels
    assert choice.candidate == measure.fastest(choice.measurements).candidate
