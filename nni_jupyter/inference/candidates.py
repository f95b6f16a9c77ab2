"""The ways one network can run a forward pass on a CPU, and the modules that run them.

A candidate is a precision (float32, or bfloat16 or float16 autocast), a memory layout
(contiguous, or channels-last: oneDNN's blocked kernels without a reorder per layer), whether
inductor compiles it, and the backend: torch, or the network exported to OpenVINO
(:mod:`.openvino_backend`, an optional extra). :mod:`.tuning` times them; :func:`runner_for`
builds the module a session runs for the one chosen.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from . import openvino_backend
from .precision import BF16, FP16, FP32, Autocast
from .warm import CompilingRunner

#: ``/proc/cpuinfo`` flags of CPUs with float16 arithmetic in hardware.
NATIVE_FP16_FLAGS = frozenset({"avx512_fp16", "amx_fp16"})
CHANNELS_LAST = torch.channels_last_3d
TORCH = "torch"


@dataclass(frozen=True, order=True)
class Candidate:
    """One way to run the network: precision, memory layout, compiled or not, in torch or in
    OpenVINO (which picks its own layout and compiles anyway)."""

    precision: str = FP32
    channels_last: bool = False
    compiled: bool = False
    backend: str = TORCH

    @property
    def label(self) -> str:
        """``"bf16 channels-last compiled"``, ``"bf16 openvino"``: what tables and status
        lines print."""
        parts = [self.precision]
        if self.channels_last:
            parts.append("channels-last")
        if self.compiled:
            parts.append("compiled")
        if self.backend != TORCH:
            parts.append(self.backend)
        return " ".join(parts)

    @property
    def exported(self) -> bool:
        """Whether it runs the network exported to OpenVINO."""
        return self.backend == openvino_backend.BACKEND

    @classmethod
    def from_label(cls, label: str) -> Candidate:
        """The candidate a :attr:`label` names (as a cache file stores it)."""
        words = label.split()
        if not words or words[0] not in (FP32, BF16, FP16):
            raise ValueError(f"a candidate label starts with fp32, bf16 or fp16; got {label!r}")
        backend = openvino_backend.BACKEND if openvino_backend.BACKEND in words else TORCH
        return cls(words[0], "channels-last" in words, "compiled" in words, backend)


FP32_EAGER = Candidate()


def eager_candidates(flags: Iterable[str], fp16: bool = True) -> list[Candidate]:
    """The uncompiled candidates worth timing on a CPU with these ``/proc/cpuinfo`` flags:
    float32 and bfloat16 everywhere (emulated bfloat16 is measured too: the figures decide),
    float16 only where the CPU computes it (elsewhere it is emulated, many times slower) and
    ``fp16`` allows it, each contiguous and channels-last. float32 comes first: the baseline."""
    precisions = [FP32, BF16]
    if fp16 and not NATIVE_FP16_FLAGS.isdisjoint(flags):
        precisions.append(FP16)
    return [Candidate(p, layout) for p in precisions for layout in (False, True)]


def exported_candidates(flags: Iterable[str]) -> list[Candidate]:
    """The OpenVINO candidates worth timing: float32, bfloat16 (OpenVINO computes it in float32
    where the CPU lacks it: the figures decide) and float16 where the CPU computes it."""
    precisions = [FP32, BF16] + ([FP16] if not NATIVE_FP16_FLAGS.isdisjoint(flags) else [])
    return [Candidate(p, backend=openvino_backend.BACKEND) for p in precisions]


class ChannelsLast(nn.Module):
    """Runs ``network`` (whose weights :func:`to_channels_last` converted) on a channels-last
    copy of its input; the logits come back contiguous, as the argmax expects."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        """The network's logits for ``tensor``."""
        logits: torch.Tensor = self.network(tensor.contiguous(memory_format=CHANNELS_LAST))
        return logits.contiguous()


def to_channels_last(network: nn.Module) -> nn.Module:
    """Convert ``network``'s 5-D weights to channels-last in place (same values, other strides;
    an eager float32 pass gives the same numbers to rounding)."""
    with torch.no_grad():
        return network.to(memory_format=CHANNELS_LAST)


_RUNNERS: weakref.WeakKeyDictionary[nn.Module, dict[Candidate, nn.Module]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def runner_for(network: nn.Module, device: torch.device, candidate: Candidate) -> nn.Module:
    """The module that runs ``network`` as ``candidate`` says: sessions sharing a network share
    it (a compiled one compiles once). A channels-last candidate converts ``network``'s weights
    in place, so a network's sessions all use one layout (they all run the same choice). An
    OpenVINO candidate runs the runner the measurement built
    (:func:`.openvino_backend.runner_of`)."""
    if candidate.exported:
        return openvino_backend.runner_of(network, candidate.precision)
    with _LOCK:
        known = _RUNNERS.setdefault(network, {})
        if candidate not in known:
            inner: nn.Module = network
            if candidate.channels_last:
                inner = ChannelsLast(to_channels_last(network))
            if candidate.compiled:
                inner = CompilingRunner(inner)
            known[candidate] = Autocast(inner, device, candidate.precision, eager=network)
        return known[candidate]
