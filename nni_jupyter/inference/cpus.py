"""The CPUs this process may use and what they can compute fast.

A JupyterHub pod is often limited to a few CPUs of a large node, by an affinity mask (cpusets) or
a CFS quota; ``os.cpu_count()`` still reports the node's cores, and torch would start that many
threads, each fighting for the few CPUs the pod has. :func:`usable_cpus` reads the limits.
:func:`cpu_description` names the CPU and the flags that decide its speed, so benchmark figures
from different machines are never read as one.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

CGROUP_ROOT = Path("/sys/fs/cgroup")
#: ``/proc/cpuinfo`` flags that change which precision and kernels are fast.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_fp16")


@dataclass(frozen=True)
class CpuBudget:
    """How many CPUs a process may use and which limit said so."""

    count: int
    #: ``"affinity"``, ``"cgroup quota"`` or ``"cpu count"``: the tightest limit.
    limit: str

    def describe(self, threads: int) -> str:
        """``"2 threads (2 CPUs: affinity)"``: what a status line says."""
        return f"{threads} thread{'s' * (threads != 1)} ({self.count} CPUs: {self.limit})"


def _affinity() -> int | None:
    getter = getattr(os, "sched_getaffinity", None)  # absent on macOS and Windows
    return None if getter is None else len(getter(0))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def cgroup_quota(root: str | Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup, in CPUs (1.5 = 150 ms per 100 ms), or None
    without one.

    Reads cgroup v2's ``cpu.max`` (``"150000 100000"``, or ``"max 100000"`` for none) and
    cgroup v1's ``cpu/cpu.cfs_quota_us`` and ``cpu/cpu.cfs_period_us`` (quota -1 for none).
    """
    root = Path(root)
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota_text = _read(root / folder / "cpu.cfs_quota_us")
        period_text = _read(root / folder / "cpu.cfs_period_us")
        if quota_text is not None and period_text is not None and int(quota_text) > 0:
            return int(quota_text) / int(period_text)
    return None


def usable_cpus(cgroup_root: str | Path = CGROUP_ROOT) -> CpuBudget:
    """The CPUs this process may use: the fewest of its affinity mask, its cgroup's CPU quota
    (rounded up) and the machine's CPU count.

    Parameters
    ----------
    cgroup_root
        Where the cgroup file system is mounted (tests point it at a folder of their own).
    """
    limits = {"cpu count": os.cpu_count() or 1}
    affinity = _affinity()
    if affinity is not None:
        limits["affinity"] = affinity
    quota = cgroup_quota(cgroup_root)
    if quota is not None:
        limits["cgroup quota"] = max(1, math.ceil(quota))
    limit = min(limits, key=lambda name: (limits[name], name != "cpu count"))
    return CpuBudget(limits[limit], limit)


def cpuinfo(path: str | Path = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """The CPU's model name and feature flags from ``path`` (empty where absent: not Linux)."""
    text = _read(Path(path)) or ""
    name, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key in ("flags", "Features"):
            flags.update(value.split())
    return name or platform.processor() or platform.machine(), frozenset(flags)


def cpu_description(threads: int | None = None) -> str:
    """One line naming this CPU, its speed flags and the threads in use, for benchmarks:
    ``"Intel(R) Xeon(R) ...; avx2 avx512f avx512_bf16 amx_bf16 (no avx512_fp16); 2 threads
    (2 CPUs: affinity)"``."""
    name, flags = cpuinfo()
    has = [flag for flag in SPEED_FLAGS if flag in flags]
    lacks = [flag for flag in SPEED_FLAGS if flag not in flags]
    budget = usable_cpus()
    used = torch.get_num_threads() if threads is None else threads
    missing = f" (no {' '.join(lacks)})" if lacks else ""
    return f"{name}; {' '.join(has) or 'no avx2'}{missing}; {budget.describe(used)}"
