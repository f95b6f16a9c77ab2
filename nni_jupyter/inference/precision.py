"""Numeric precision of the network's forward passes: a session setting.

``"auto"`` picks what is fast and safe on the device: float16 autocast on CUDA (as nnInteractive
does); on a CPU a session measures it (:mod:`.tuning`), and :func:`resolve` gives only the guess
from the CPU's flags (bfloat16 where it computes it natively: AVX512-BF16 or AMX); float32
elsewhere. ``"fp32"`` is the parity mode: the same numbers as the reference on CPU. Only the
network runs in reduced precision; inputs, interactions and the argmax result stay as they are.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from .cpus import cpuinfo

AUTO = "auto"
FP32, BF16, FP16 = "fp32", "bf16", "fp16"
CHOICES = (AUTO, FP32, BF16, FP16)
DTYPES = {BF16: torch.bfloat16, FP16: torch.float16}
#: ``/proc/cpuinfo`` flags of CPUs with bfloat16 dot products in hardware.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: Device types on which each reduced precision may be forced.
SUPPORTED_DEVICES = {BF16: ("cpu", "cuda"), FP16: ("cuda", "mps")}


def cpuinfo_flags(path: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags listed in ``path`` (empty where the file is absent: not Linux)."""
    return cpuinfo(path)[1]


def _torch_reports_native_bf16() -> bool:
    """What torch's own CPU probe says (private helpers, absent in some builds: then False)."""
    probes: Iterable[Callable[[], bool] | None] = (
        getattr(torch.cpu, "_is_avx512_bf16_supported", None),
        getattr(torch.cpu, "_is_amx_tile_supported", None),
    )
    for probe in probes:
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            continue
    return False


def cpu_has_native_bf16(flags: Iterable[str] | None = None) -> bool:
    """True when the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX).

    Parameters
    ----------
    flags
        CPU feature flags to judge (as in ``/proc/cpuinfo``); None asks torch's CPU probe and
        reads ``/proc/cpuinfo``, either one saying yes is enough.
    """
    if flags is not None:
        return not NATIVE_BF16_FLAGS.isdisjoint(flags)
    return _torch_reports_native_bf16() or cpu_has_native_bf16(cpuinfo_flags())


def resolve(precision: str, device: torch.device, native_bf16: bool | None = None) -> str:
    """The precision a session on ``device`` runs in: ``"fp32"``, ``"bf16"`` or ``"fp16"``.

    Parameters
    ----------
    precision
        ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"``.
    device
        The compute device.
    native_bf16
        Whether the CPU has native bfloat16 (None: detect it with :func:`cpu_has_native_bf16`).

    Raises
    ------
    ValueError
        For an unknown name, or a precision the device cannot run (``"fp16"`` on a CPU, whose
        float16 convolutions are emulated and slower than float32; ``"bf16"`` on MPS).
    """
    if precision not in CHOICES:
        raise ValueError(f"precision must be one of {CHOICES}; got {precision!r}")
    if precision == AUTO:
        if device.type == "cuda":
            return FP16
        if device.type == "cpu":
            native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
            return BF16 if native else FP32
        return FP32
    if precision != FP32 and device.type not in SUPPORTED_DEVICES[precision]:
        supported = " or ".join(SUPPORTED_DEVICES[precision])
        raise ValueError(
            f"precision {precision!r} runs on {supported}, not on {device.type!r}; use "
            f"precision='fp32' or 'auto' there"
        )
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """The autocast context of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    if precision == FP32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


#: Modules whose forward already runs in float32 (shared networks are set up once).
_FLOAT32_MODULES: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def _float32_forward(module: nn.Module) -> None:
    """Make ``module`` run in float32 even inside autocast (a no-op outside it)."""
    if module in _FLOAT32_MODULES:
        return
    forward = module.forward

    def float32_forward(tensor: torch.Tensor) -> torch.Tensor:
        with torch.autocast(tensor.device.type, enabled=False):
            result: torch.Tensor = forward(tensor.float())
        return result

    module.forward = float32_forward
    _FLOAT32_MODULES.add(module)


def keep_segmentation_layers_in_float32(network: nn.Module) -> None:
    """Run the decoder's segmentation layers (the 1x1 convolutions that make the logits) in
    float32; everything before them runs in the reduced precision.

    The logits' argmax is the mask: float32 there keeps near-ties from being decided by
    bfloat16's rounding of the final sums, at the cost of a 1x1 convolution. Keeping the whole
    full-resolution stage in float32 as well cost about a fifth of a v1.0-sized forward pass on
    CPU and changed no Dice by more than 0.004 (the demo model and the tests' tiny model, after
    every prompt of the parity sequence; ``tests/inference/test_precision.py``). Networks
    without a ``decoder.seg_layers`` list are left alone; float32 sessions sharing the network
    are unaffected.
    """
    decoder = getattr(network, "decoder", None)
    seg_layers = getattr(decoder, "seg_layers", None)
    if not isinstance(seg_layers, nn.ModuleList):
        return
    for module in seg_layers:
        _float32_forward(module)


class Autocast(nn.Module):
    """Runs ``network`` under the autocast of ``precision``; only the forward pass changes
    precision (building inputs and the argmax stay as they are). Holds no weights of its own.
    Under bf16 the segmentation layers stay in float32
    (:func:`keep_segmentation_layers_in_float32`), in ``eager`` when ``network`` wraps the
    eager module (a compiling runner)."""

    def __init__(
        self,
        network: nn.Module,
        device: torch.device,
        precision: str,
        eager: nn.Module | None = None,
    ):
        super().__init__()
        self.network = network
        self.device = device
        self.precision = precision
        if precision == BF16:
            keep_segmentation_layers_in_float32(network if eager is None else eager)

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        """The network's logits for ``tensor``."""
        with autocast(self.device, self.precision):
            logits: torch.Tensor = self.network(tensor)
        return logits
