"""Run the measurement of :mod:`.tuning` for a session: read the cache, or measure while loading
(a cheap network) or on a thread (an expensive one), and hand each choice to the session.

A session whose ``precision`` is ``"auto"`` on a CPU makes a :class:`Tuner` when its model
loads; the tuner calls the session back with a :class:`~.tuning.Choice` once it is known (at
once from the cache), and again when the OpenVINO export (where OpenVINO is installed) or else
the compiled candidate has been judged, on a thread: prompts run the torch winner meanwhile.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from . import devices, openvino_backend
from .candidates import FP32_EAGER, Candidate, exported_candidates, runner_for
from .cpus import cpuinfo
from .measure import Measurement, callables, fastest, probe_input, probe_shape, time_candidates
from .precision import AUTO, autocast
from .tuning import (
    BUDGET_CHEAP_S,
    BUDGET_EXPORTED_S,
    BUDGET_S,
    COMPILE_MARGIN,
    PROBE_VOXELS,
    PROBE_VOXELS_CHEAP,
    Choice,
    cache_dir,
    cached,
    machine_busy,
    measure_eager,
    remember,
)
from .tuning import key as tuning_key
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
        ``False`` never. Unless it is ``True``, the network exported to OpenVINO is judged
        first where OpenVINO is installed (:mod:`.openvino_backend`), and compiling only where
        that export is not kept.
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
        self.may_export = compile_setting is not True and openvino_backend.available()
        exports = openvino_backend.version() if self.may_export else None
        self.key = tuning_key(network, patch_size, compile_setting, exports)
        self.choice: Choice | None = None
        self.thread: threading.Thread | None = None
        self.budget_s = BUDGET_CHEAP_S if self.cheap else BUDGET_S

    def start(self, apply: Apply) -> threading.Thread | None:
        """Hand ``apply`` the choice: at once when cached or cheap to measure (measured here),
        else from a thread, which is returned (a daemon: a script may end before it does)."""
        found = cached(self.key)
        if found is not None and found.candidate.exported:  # torch until the export is read
            self.choice = torch_choice(found)
            apply(self.choice)
            return self._thread(self._restore_exported, found, apply)
        if found is not None:
            self.choice = found
            apply(found)
            return None
        if self.cheap:
            self.choice = self.measure(
                probe_shape(self.network, self.patch_size, PROBE_VOXELS_CHEAP)
            )
            remember(self.choice, self.choice.busy)
            apply(self.choice)
            if self.may_export:
                return self._thread(self._exported_later, self.choice, apply)
            return None
        return self._thread(self._background, apply)

    def _thread(self, target: Callable[..., None], *args: object) -> threading.Thread:
        self.thread = threading.Thread(
            target=_warning_on_failure(target), args=args, name="nni_jupyter-tuning", daemon=True
        )
        self.thread.start()
        return self.thread

    def measure(self, probe: list[int]) -> Choice:
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
        choice = self.measure(probe_shape(self.network, self.patch_size, PROBE_VOXELS))
        self.choice = choice
        apply(choice)
        if self.may_export:
            choice = self._exported_or_as_is(choice)
            self.choice = choice
            if choice.candidate.exported:
                apply(choice)
                remember(choice, choice.busy)
                return
        if self.may_compile:
            choice = self._judge_compiled(choice)
            self.choice = choice
            apply(choice)
        remember(choice, choice.busy)

    def _exported_later(self, choice: Choice, apply: Apply) -> None:
        """A cheap network measured while loading: judge its export on this thread."""
        judged = self._exported_or_as_is(choice)
        self.choice = judged  # with the export's figures, kept or not
        if judged.candidate.exported:
            apply(judged)
        remember(judged, judged.busy)

    def _exported_or_as_is(self, choice: Choice) -> Choice:
        """:meth:`judge_exported`, or ``choice`` as it is where exporting fails (a warning says
        why): the torch candidates and compiling are judged as without OpenVINO."""
        try:
            return self.judge_exported(choice)
        except Exception as error:  # noqa: BLE001 - OpenVINO is an optimisation
            warnings.warn(
                f"the OpenVINO export was not judged ({_first_line(error)}); torch runs",
                stacklevel=2,
            )
            return choice

    def judge_exported(self, choice: Choice) -> Choice:
        """Export the network to OpenVINO (or read the export of these weights made before),
        time its candidates against float32 and the torch winner at the probe, in turns; keep
        the fastest where it agrees with float32 and beats the torch winner by
        :data:`~.tuning.COMPILE_MARGIN`. The returned choice holds every figure."""
        with openvino_backend.working():  # an exiting interpreter waits for the judgement
            return self._judge_exported(choice)

    def _judge_exported(self, choice: Choice) -> Choice:
        example = probe_input(self.channels, choice.probe, self.device)
        xml = openvino_backend.export(self.network, example, cache_dir() / "openvino")
        threads = torch.get_num_threads()
        shape = [1, self.channels, *choice.probe]
        eager = [FP32_EAGER] + ([choice.candidate] if choice.candidate != FP32_EAGER else [])
        runs = dict(callables(self.network, self.device, eager))
        failed: list[Measurement] = []
        for candidate in exported_candidates(cpuinfo()[1]):
            try:
                runs[candidate] = openvino_backend.compile_runner(
                    xml, shape, candidate.precision, threads, self.network
                )
            except Exception as error:  # noqa: BLE001 - a precision OpenVINO refuses here
                failed.append(Measurement(candidate, math.inf, 0.0, _first_line(error)))
        timed = time_candidates(runs, example, BUDGET_EXPORTED_S)
        measurements = merge(choice.measurements, timed + failed)
        best = fastest(measurements)
        fp32 = next(m.seconds for m in measurements if m.candidate == FP32_EAGER)
        winner = next(m.seconds for m in measurements if m.candidate == choice.candidate)
        if not best.candidate.exported or best.seconds >= COMPILE_MARGIN * winner:
            return replace(choice, measurements=measurements, speedup=fp32 / winner)
        self._keep_exported(xml, best.candidate, torch_choice(choice).candidate)
        return replace(
            choice, candidate=best.candidate, speedup=fp32 / best.seconds, measurements=measurements
        )

    def _keep_exported(self, xml: Path, candidate: Candidate, fallback: Candidate) -> None:
        """Compile the export at the network's patch for the session to run."""
        runner = openvino_backend.compile_runner(
            xml,
            [1, self.channels, *self.patch_size],
            candidate.precision,
            torch.get_num_threads(),
            runner_for(self.network, self.device, fallback),
        )
        openvino_backend.keep(self.network, runner)

    def _restore_exported(self, found: Choice, apply: Apply) -> None:
        """A cached OpenVINO choice: read (or remake) the export, then hand the choice over."""
        if not self.may_export:
            return
        example = probe_input(self.channels, found.probe, self.device)
        with openvino_backend.working():
            xml = openvino_backend.export(self.network, example, cache_dir() / "openvino")
            self._keep_exported(xml, found.candidate, torch_choice(found).candidate)
        self.choice = found
        apply(found)

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


def torch_choice(choice: Choice) -> Choice:
    """``choice`` as torch alone would run it: its fastest usable uncompiled torch candidate."""
    torch_only = [m for m in choice.measurements if not m.candidate.exported]
    best = fastest([m for m in torch_only if not m.candidate.compiled])
    fp32 = next(m.seconds for m in torch_only if m.candidate == FP32_EAGER)
    return replace(choice, candidate=best.candidate, speedup=fp32 / best.seconds)


def merge(first: Sequence[Measurement], second: Sequence[Measurement]) -> list[Measurement]:
    """Both rounds' measurements, a candidate timed in both keeping its fastest (other work on
    the machine only ever adds time)."""
    kept: dict[Candidate, Measurement] = {}
    for measurement in [*first, *second]:
        known = kept.get(measurement.candidate)
        if known is None or measurement.seconds < known.seconds:
            kept[measurement.candidate] = measurement
    return list(kept.values())


def _first_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error).splitlines()[0][:80] if str(error) else ''}"


def _warning_on_failure(target: Callable[..., None]) -> Callable[..., None]:
    """``target``, warning instead of raising: measuring is an optimisation (a session whose
    measurement fails keeps the runner it has, float32 at worst)."""

    def run(*args: object) -> None:
        try:
            target(*args)
        except Exception as error:  # noqa: BLE001 - reported, the session goes on
            warnings.warn(
                f"measuring the fastest precision failed ({_first_line(error)}); the network "
                "keeps running as it does",
                stacklevel=2,
            )

    return run


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
