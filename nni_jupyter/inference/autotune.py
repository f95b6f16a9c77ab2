"""Run the measurement of :mod:`.tuning` for a session: read the cache, or measure while loading
(a cheap network) or on a thread (an expensive one), and hand each choice to the session.

A session whose ``precision`` is ``"auto"`` on a CPU makes a :class:`Tuner` when its model
loads; the tuner calls the session back with a :class:`~.tuning.Choice` once it is known (at
once from the cache), and again when the compiled candidate has been judged.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import nn

from . import devices
from .candidates import runner_for
from .measure import probe_input, probe_shape
from .precision import AUTO, autocast
from .tuning import (
    BUDGET_CHEAP_S,
    BUDGET_S,
    COMPILE_MARGIN,
    PROBE_VOXELS,
    PROBE_VOXELS_CHEAP,
    Choice,
    cached,
    machine,
    machine_busy,
    measure_eager,
    network_signature,
    remember,
)
from .warm import compiling_runner

Apply = Callable[[Choice], None]


def applies(precision: str, device: torch.device) -> bool:
    """Whether a session measures its precision: ``"auto"`` on a CPU (CUDA's float16 and MPS's
    float32 need no measuring)."""
    return precision == AUTO and device.type == "cpu"


class Tuner:
    """The measurement of one network's candidates on this machine.

    Parameters
    ----------
    network
        The loaded network (float32, eager).
    patch_size
        Its patch.
    channels
        Its input channels (image + interactions).
    device
        The CPU device.
    compile_setting
        The session's ``use_torch_compile``: ``True`` compiles the winner whatever the figures,
        ``"auto"`` compiles it when that is measured faster (on an expensive network only),
        ``False`` never.
    """

    def __init__(
        self,
        network: nn.Module,
        patch_size: Sequence[int],
        channels: int,
        device: torch.device,
        compile_setting: bool | str,
    ):
        self.network, self.patch_size, self.channels = network, list(patch_size), channels
        self.device, self.compile_setting = device, compile_setting
        self.cheap = devices.forward_cost(network, patch_size) <= devices.CHEAP_FORWARD
        self.may_compile = compile_setting is True or (compile_setting == AUTO and not self.cheap)
        self.key = {
            **machine(),
            "network": network_signature(network, patch_size),
            "compile": str(compile_setting),
        }
        self.choice: Choice | None = None
        self.thread: threading.Thread | None = None
        self.budget_s = BUDGET_CHEAP_S if self.cheap else BUDGET_S

    def start(self, apply: Apply) -> threading.Thread | None:
        """Hand ``apply`` the choice: at once when cached or cheap to measure (measured here),
        else from a thread, which is returned (a daemon: a script may end before it does)."""
        found = cached(self.key)
        if found is not None:
            self.choice = found
            apply(found)
            return None
        if self.cheap:
            self.choice = self._measure(
                probe_shape(self.network, self.patch_size, PROBE_VOXELS_CHEAP)
            )
            remember(self.choice, self.choice.busy)
            apply(self.choice)
            return None
        self.thread = threading.Thread(
            target=self._background, args=(apply,), name="nni_jupyter-tuning", daemon=True
        )
        self.thread.start()
        return self.thread

    def _measure(self, probe: list[int]) -> Choice:
        busy = machine_busy(torch.get_num_threads())
        start = time.perf_counter()
        # float16 (slow on every CPU measured so far: its first pass alone took seconds on the
        # demo model) only off the loading path
        candidate, speedup, measurements = measure_eager(
            self.network, self.device, probe, self.channels, self.budget_s, fp16=not self.cheap
        )
        self.measure_seconds = time.perf_counter() - start
        return Choice(candidate, speedup, measurements, probe, key=self.key, busy=busy)

    def _background(self, apply: Apply) -> None:
        try:
            choice = self._measure(probe_shape(self.network, self.patch_size, PROBE_VOXELS))
            self.choice = choice
            apply(choice)
            if self.may_compile:
                choice = self._judge_compiled(choice)
                self.choice = choice
                apply(choice)
            remember(choice, choice.busy)
        except Exception as error:  # noqa: BLE001 - measuring is an optimisation: stay fp32
            warnings.warn(
                f"measuring the fastest precision failed, so the network runs in fp32: {error}",
                stacklevel=2,
            )

    def _judge_compiled(self, choice: Choice) -> Choice:
        """Compile the winner at the real patch (the compile a session makes anyway), time it
        against the uncompiled winner once each; keep it where it wins (or was asked for)."""
        compiled = replace(choice.candidate, compiled=True)
        runner = runner_for(self.network, self.device, compiled)
        compiling = compiling_runner(runner)
        example = probe_input(self.channels, self.patch_size, self.device)
        precision = choice.candidate.precision

        def context() -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(devices.inference(self.device))
            stack.enter_context(autocast(self.device, precision))
            return stack

        if compiling is None:
            return choice
        compiling.compile_now(example, context)  # False: another session compiles it, or failed
        compiling.wait()
        if not compiling.ready:
            return choice
        eager = runner_for(self.network, self.device, choice.candidate)
        seconds = []
        with devices.inference(self.device):
            for run in (eager, runner):
                start = time.perf_counter()
                run(example)
                seconds.append(time.perf_counter() - start)
        ratio = seconds[1] / seconds[0]
        if self.compile_setting is True or ratio < COMPILE_MARGIN:
            return replace(
                choice, candidate=compiled, speedup=choice.speedup / ratio, compile_ratio=ratio
            )
        return replace(choice, compile_ratio=ratio)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a measuring thread; False on timeout."""
        if self.thread is not None:
            self.thread.join(timeout)
            return not self.thread.is_alive()
        return True


def describe(choice: Choice | None, precision: str, measuring: bool, asked: str) -> str:
    """What a status line says about the precision: the measured choice and why, or that it is
    being measured, or the one asked for (``asked``: the session's ``precision`` setting)."""
    if choice is not None:
        return choice.reason
    if measuring:
        return "measuring the fastest precision on this CPU (fp32 until then)"
    if asked == AUTO:
        return f"{precision} (auto)"
    return f"{precision} (asked for)"
