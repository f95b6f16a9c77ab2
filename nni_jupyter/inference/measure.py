"""Time the candidates of :mod:`.candidates` on one network and judge their masks.

Every candidate runs the same probe input (a bright ball in the image channel and a positive
point at its centre) at the same patch shape; its mask (the argmax) is compared with float32's by
Dice. Candidates take turns round by round, so a machine busy with other work slows them alike, and
each keeps its fastest round.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .candidates import FP32_EAGER, Candidate, ChannelsLast, to_channels_last
from .precision import Autocast

#: Masks must agree with float32's at least this well (Dice of the foreground) to be chosen.
MIN_DICE = 0.98
#: Candidates this many times slower than the best after a round stop being timed.
DROP_SLOWER = 1.5
#: Another candidate replaces float32 only when float32 takes this much longer (5%).
MIN_GAIN = 0.05


@dataclass(frozen=True)
class Measurement:
    """A candidate's seconds per forward pass (its fastest round) and its mask's Dice against
    float32."""

    candidate: Candidate
    seconds: float
    dice: float
    error: str = ""

    @property
    def usable(self) -> bool:
        """Whether it ran and its mask agrees with float32's."""
        return not self.error and self.dice >= MIN_DICE


def probe_input(channels: int, shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """``[1, channels, *shape]``: a ball (z-scored image channel 0), a positive point at its
    centre in channel 4 (nnInteractive's point-positive channel) where there is one."""
    axes = [torch.linspace(-1, 1, n, device=device) for n in shape]
    grid = torch.meshgrid(*axes, indexing="ij")
    radius = torch.stack([axis**2 for axis in grid]).sum(0)
    probe = torch.zeros((1, channels, *shape), device=device)
    probe[0, 0] = torch.where(radius < 0.3, 2.0, -0.5)
    if channels > 4:
        probe[0, 4] = torch.clamp(1 - radius * 20, min=0)
    return probe


def probe_shape(network: nn.Module, patch_size: Sequence[int], max_voxels: int) -> list[int]:
    """The probe's patch: the network's own when it has at most ``max_voxels``, else the
    smallest whose deepest stage is 2 voxels wide (instance norm needs more than one), kept
    under the patch. The encoder's ``strides`` say how far each axis shrinks."""
    if math.prod(patch_size) <= max_voxels:
        return list(patch_size)
    strides = getattr(getattr(network, "encoder", None), "strides", None)
    if not strides:
        return list(patch_size)
    total = [math.prod(int(_axis(s, d)) for s in strides) for d in range(len(patch_size))]
    return [min(p, 2 * t) for p, t in zip(patch_size, total, strict=True)]


def _axis(stride: int | Sequence[int], axis: int) -> int:
    return stride if isinstance(stride, int) else stride[axis]


def dice(mask: torch.Tensor, reference: torch.Tensor) -> float:
    """Dice of two boolean masks (1.0 when both are empty)."""
    both = int((mask & reference).sum())
    total = int(mask.sum()) + int(reference.sum())
    return 1.0 if total == 0 else 2 * both / total


def callables(
    network: nn.Module, device: torch.device, wanted: Sequence[Candidate]
) -> dict[Candidate, Callable[[torch.Tensor], torch.Tensor]]:
    """Per eager candidate, a function running one pass. Channels-last ones run a copy of
    ``network`` (a session may be running the network itself meanwhile); freed afterwards."""
    copied: nn.Module | None = None
    runs: dict[Candidate, Callable[[torch.Tensor], torch.Tensor]] = {}
    for candidate in wanted:
        if candidate.compiled:
            raise ValueError(f"only uncompiled candidates are timed here; got {candidate.label}")
        eager, inner = network, network
        if candidate.channels_last:
            copied = copied or to_channels_last(copy.deepcopy(network))
            eager, inner = copied, ChannelsLast(copied)
        runs[candidate] = Autocast(inner, device, candidate.precision, eager=eager)
    return runs


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_candidates(
    runs: dict[Candidate, Callable[[torch.Tensor], torch.Tensor]],
    probe: torch.Tensor,
    budget_s: float,
) -> list[Measurement]:
    """Run each candidate once (its first pass builds its kernels; not timed), then in rounds
    until ``budget_s`` is spent (at least one timed round); after the first round, candidates
    more than :data:`DROP_SLOWER` times slower than the best run no more. Float32 (the
    baseline) must be among them."""
    if FP32_EAGER not in runs:
        raise ValueError("the float32 eager candidate is the baseline and must be timed")
    masks: dict[Candidate, torch.Tensor] = {}
    errors: dict[Candidate, str] = {}
    seconds: dict[Candidate, list[float]] = {}
    with torch.inference_mode():
        for candidate, run in runs.items():
            try:
                masks[candidate] = run(probe)[0].argmax(0) == 1
                seconds[candidate] = []
            except Exception as error:  # noqa: BLE001 - a candidate that fails is reported
                errors[candidate] = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
        deadline = time.perf_counter() + budget_s
        racing = list(seconds)
        while racing and (not seconds[racing[0]] or time.perf_counter() < deadline):
            for candidate in racing:
                seconds[candidate].append(_timed(runs[candidate], probe))
            best = min(min(seconds[c]) for c in racing)
            racing = [c for c in racing if min(seconds[c]) <= DROP_SLOWER * best]
    reference = masks.get(FP32_EAGER)
    if reference is None:
        raise RuntimeError(f"the float32 pass failed, nothing to compare with: {errors}")
    # the fastest round: other work on the machine only ever adds time
    found = [Measurement(c, min(t), dice(masks[c], reference)) for c, t in seconds.items()]
    return found + [Measurement(c, math.inf, 0.0, e) for c, e in errors.items()]


def _timed(run: Callable[[torch.Tensor], torch.Tensor], probe: torch.Tensor) -> float:
    _sync(probe.device)
    start = time.perf_counter()
    run(probe)
    _sync(probe.device)
    return time.perf_counter() - start


def fastest(measurements: Sequence[Measurement]) -> Measurement:
    """The fastest usable measurement; float32 (always usable) unless another beats it by more
    than :data:`MIN_GAIN`: a near-tie is noise, not a reason to give up float32's numbers."""
    usable = [m for m in measurements if m.usable]
    if not usable:
        raise ValueError("no usable candidate: float32's own mask must be among them")
    best = min(usable, key=lambda m: m.seconds)
    fp32 = next((m for m in usable if m.candidate == FP32_EAGER), best)
    return best if best.seconds * (1 + MIN_GAIN) < fp32.seconds else fp32
