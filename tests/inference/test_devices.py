"""Device selection and per-device settings."""

from __future__ import annotations

import pytest
import torch

from nni_jupyter.inference import cpus, devices


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.pick_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.pick_device("auto") == torch.device("cpu")
    assert devices.pick_device("cuda:1") == torch.device("cuda:1")


def test_threads_are_capped_at_the_cpus_this_process_may_use() -> None:
    before = torch.get_num_threads()
    usable = cpus.usable_cpus().count  # affinity and cgroup quota: tests/inference/test_cpus.py
    try:
        assert devices.configure_threads(10_000) == usable
        assert torch.get_num_threads() == usable
        assert devices.configure_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_pinned_memory_and_autocast_only_on_cuda() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not devices.uses_pinned_memory(cpu, True)
    assert devices.uses_pinned_memory(cuda, True) and not devices.uses_pinned_memory(cuda, False)
    with devices.inference(cpu):
        assert torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")


def test_cpu_graph_optimisation_keeps_outputs() -> None:
    network = torch.nn.Sequential(torch.nn.Conv3d(2, 3, 3, padding=1), torch.nn.LeakyReLU())
    example = torch.randn(1, 2, 8, 8, 8)
    optimized = devices.optimize_for_cpu(network, example)
    with torch.inference_mode():
        assert torch.allclose(optimized(example), network(example), atol=1e-5)


def test_auto_compiles_on_cuda_and_for_an_expensive_bf16_network_on_a_cpu() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    expensive, cheap = devices.CHEAP_FORWARD * 70, devices.CHEAP_FORWARD // 25  # v1.0, demo
    assert devices.wants_compile("auto", cuda)
    assert not devices.wants_compile("auto", cpu)  # the network is not known yet
    assert devices.wants_compile("auto", cpu, "bf16", expensive)
    assert not devices.wants_compile("auto", cpu, "bf16", cheap)
    assert not devices.wants_compile("auto", cpu, "fp32", expensive)  # measured in bf16 only
    assert devices.wants_compile(True, torch.device("cpu"))
    assert not devices.wants_compile(False, torch.device("cuda"))
    with pytest.raises(ValueError, match="use_torch_compile must be True, False or 'auto'"):
        devices.wants_compile("yes", torch.device("cpu"))
