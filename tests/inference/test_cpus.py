"""The CPUs a process may use: affinity mask and cgroup quota, not the node's core count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nni_jupyter.inference import cpus


def test_cgroup_v2_quota_is_read_in_cpus(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpus.cgroup_quota(tmp_path) == 1.5
    budget = cpus.usable_cpus(tmp_path)
    expected = min(2, len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    assert budget.count == expected  # 1.5 CPUs rounds up to 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus.cgroup_quota(tmp_path) is None


def test_cgroup_v1_quota_and_no_limit(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(tmp_path) is None  # neither file: no quota
    folder = tmp_path / "cpu,cpuacct"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text("50000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.cgroup_quota(tmp_path) == 0.5
    budget = cpus.usable_cpus(tmp_path)
    assert (budget.count, budget.limit) == (1, "cgroup quota")
    assert budget.describe(1) == "1 thread (1 CPUs: cgroup quota)"
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpus.cgroup_quota(tmp_path) is None


CHILD = """
import os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from nni_jupyter.inference import cpus, nnInteractiveInferenceSession
budget = cpus.usable_cpus()
session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=64)
import torch
print(budget.count, budget.limit, session.torch_n_threads, torch.get_num_threads())
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity masks (not Linux)")
def test_threads_follow_an_affinity_mask_in_a_child_process() -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this process may use one CPU only: a mask of one changes nothing")
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=300
    )
    count, limit, session_threads, torch_threads = result.stdout.split()
    assert (count, limit) == ("1", "affinity")
    assert session_threads == torch_threads == "1"


def test_cpuinfo_and_description(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu avx2 avx512f amx_bf16\n",
        encoding="utf-8",
    )
    name, flags = cpus.cpuinfo(info)
    assert name == "Test CPU 9000" and {"avx2", "amx_bf16"} <= flags
    line = cpus.cpu_description(threads=2)
    assert "2 threads" in line and "CPUs:" in line
