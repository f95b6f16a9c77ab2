"""``precision="auto"`` on a CPU: measure the candidates once per machine and keep the fastest.

What is fast depends on the CPU, not on its flags alone: bfloat16 is twice as fast as float32
where AMX computes it and slower where AVX512-BF16 only converts it; compiling pays on some CPUs
and not on others. So the first session of a network on a machine times the candidates of
:mod:`.candidates` on the loaded network itself and keeps the fastest whose mask agrees with
float32's (:data:`~.measure.MIN_DICE`); float32 is always a candidate, so ``auto`` is never
slower than float32 as measured. The choice and the figures are cached per CPU, thread count,
torch version and network shape in :func:`cache_dir`; later sessions read them.

How long it takes: a cheap network (the demo model) is measured while loading, at its own patch
(up to 64^3), in about two seconds. An expensive one (nnInteractive v1.0) is measured on a thread
while the prompts run in float32: the uncompiled candidates at a 64^3 probe patch for a few
seconds, then, where the compile setting allows, the winner compiled against uncompiled at the
real patch (a compile of about a minute: the one a session would make anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from ..atomic import write_atomic
from .candidates import FP32_EAGER, Candidate, eager_candidates
from .cpus import SPEED_FLAGS, cpuinfo
from .measure import Measurement, callables, fastest, probe_input, time_candidates

CACHE_ENV = "NNI_JUPYTER_CACHE_DIR"
#: Seconds of timed rounds: while loading a cheap network, and on a thread for an expensive one.
BUDGET_CHEAP_S, BUDGET_S = 0.5, 3.0
#: ... of the OpenVINO candidates against float32 and the torch winner (on a thread).
BUDGET_EXPORTED_S = 1.5
#: Largest probe patch (voxels) of an expensive network: 64^3, a fifth of a second in bf16.
PROBE_VOXELS = 64**3
#: ... and of a cheap one, measured while loading: the demo model's own 64^3 (at 32^3 the
#: small bench model ranked bf16 channels-last first, at 64^3 contiguous bf16: a 1.2x miss).
PROBE_VOXELS_CHEAP = 64**3
#: A compiled network must beat the uncompiled one by this much to be kept.
COMPILE_MARGIN = 0.97


def cache_dir() -> Path:
    """Where measured choices are kept: ``$NNI_JUPYTER_CACHE_DIR/tuning``, else
    ``$XDG_CACHE_HOME/nni_jupyter/tuning`` (``~/.cache/nni_jupyter/tuning``)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root) / "tuning"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "nni_jupyter" / "tuning"


def machine() -> dict[str, Any]:
    """What a measurement holds for: the CPU, its speed flags, torch's threads and version."""
    name, flags = cpuinfo()
    return {
        "cpu": name,
        "flags": sorted(flag for flag in SPEED_FLAGS if flag in flags),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def network_signature(network: nn.Module, patch_size: Sequence[int]) -> str:
    """A hash of the network's parameter names and shapes and its patch: its shape, not its
    weights (two checkpoints of one architecture run equally fast)."""
    shapes = [(name, list(p.shape)) for name, p in network.named_parameters()]
    text = json.dumps([type(network).__name__, shapes, list(patch_size)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key(
    network: nn.Module, patch_size: Sequence[int], compile_setting: bool | str, openvino: str | None
) -> dict[str, Any]:
    """What a measurement holds for: this machine, the network's shape, the session's
    ``use_torch_compile`` and the OpenVINO version judged (None: not judged)."""
    return {
        **machine(),
        "network": network_signature(network, patch_size),
        "compile": str(compile_setting),
        "openvino": openvino,
    }


@dataclass
class Choice:
    """What ``auto`` runs and why: the chosen candidate, its speed-up over float32 and the
    figures it was chosen from."""

    candidate: Candidate
    speedup: float
    measurements: list[Measurement]
    probe: list[int]
    #: Compiled seconds / uncompiled seconds at the real patch; None where not measured.
    compile_ratio: float | None = None
    source: str = "measured"
    key: dict[str, Any] = field(default_factory=dict)
    #: Measured while other work kept the CPUs busy (then not written to the cache folder).
    busy: bool = False

    @property
    def reason(self) -> str:
        """``"bf16 channels-last compiled: 2.3x fp32 on this CPU"``."""
        where = "measured" if self.source == "measured" else "measured before, cached"
        if self.busy:
            where += " on a busy machine, not cached"
        return f"{self.candidate.label}: {self.speedup:.1f}x fp32 on this CPU ({where})"

    def table(self) -> str:
        """The candidates' figures, fastest first, one per line."""
        fp32 = next(m.seconds for m in self.measurements if m.candidate == FP32_EAGER)
        size = "x".join(str(n) for n in self.probe)
        lines = [f"{'candidate':28s} {'s/pass':>8s} {'x fp32':>7s} {'Dice':>6s}  (patch {size})"]
        for m in sorted(self.measurements, key=lambda m: m.seconds):
            note = m.error or ("" if m.usable else "masks differ from fp32: not used")
            chosen = " <- auto" if m.candidate == replace(self.candidate, compiled=False) else ""
            lines.append(
                f"{m.candidate.label:28s} {m.seconds:8.3f} {fp32 / m.seconds:7.2f} "
                f"{m.dice:6.3f}{chosen} {note}".rstrip()
            )
        if self.compile_ratio is not None:
            lines.append(
                f"compiled / uncompiled at the real patch: {self.compile_ratio:.2f} "
                f"({'compiled' if self.candidate.compiled else 'uncompiled'} kept)"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The choice as the cache file stores it."""
        return {
            "key": self.key,
            "chosen": self.candidate.label,
            "speedup": self.speedup,
            "probe": self.probe,
            "compile_ratio": self.compile_ratio,
            "measurements": [
                {"candidate": m.candidate.label, "seconds": m.seconds, "dice": m.dice}
                | ({"error": m.error} if m.error else {})
                for m in self.measurements
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Choice:
        """A choice read back from a cache file (``source="cache"``)."""
        measurements = [
            Measurement(
                Candidate.from_label(m["candidate"]),
                float(m["seconds"]),
                float(m["dice"]),
                m.get("error", ""),
            )
            for m in data["measurements"]
        ]
        ratio = data.get("compile_ratio")
        return cls(
            Candidate.from_label(data["chosen"]),
            float(data["speedup"]),
            measurements,
            [int(n) for n in data["probe"]],
            None if ratio is None else float(ratio),
            "cache",
            dict(data["key"]),
        )


_MEMORY: dict[str, Choice] = {}


def _cache_file(key: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / f"{digest}.json"


def cached(key: dict[str, Any]) -> Choice | None:
    """The choice measured before for ``key`` (this process, else the cache folder), or None;
    a damaged cache file counts as none."""
    path = _cache_file(key)
    found = _MEMORY.get(str(path))
    if found is not None:
        return found
    try:
        choice = Choice.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if choice.key != key:
        return None
    _MEMORY[str(path)] = choice
    return choice


def machine_busy(threads: int) -> bool:
    """Whether other work keeps this machine's CPUs busy (1-minute load average above the
    threads measured with plus one): figures taken now say little about the next process."""
    getter = getattr(os, "getloadavg", None)  # absent on Windows
    return getter is not None and getter()[0] > threads + 1


def remember(choice: Choice, busy: bool = False) -> None:
    """Keep ``choice`` for this process and, unless it was measured on a ``busy`` machine, in
    the cache folder (a read-only home only loses the file: the next process measures again)."""
    path = _cache_file(choice.key)
    _MEMORY[str(path)] = choice
    if busy:
        return
    text = json.dumps(choice.to_json(), indent=1).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda handle: _write(handle, text))
    except OSError:
        pass


def _write(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)


def measure_eager(
    network: nn.Module,
    device: torch.device,
    probe: Sequence[int],
    channels: int,
    budget_s: float,
    flags: Sequence[str] | None = None,
    fp16: bool = True,
) -> tuple[Candidate, float, list[Measurement]]:
    """Time the uncompiled candidates at ``probe`` (float16 where the CPU has it and ``fp16``
    allows); the fastest usable one, its speed-up over float32 and every measurement."""
    wanted = eager_candidates(cpuinfo()[1] if flags is None else flags, fp16)
    example = probe_input(channels, probe, device)
    measurements = time_candidates(callables(network, device, wanted), example, budget_s)
    best = fastest(measurements)
    fp32 = next(m.seconds for m in measurements if m.candidate == FP32_EAGER)
    return best.candidate, fp32 / best.seconds, measurements
