"""``precision="auto"`` on a CPU against the candidates measured by hand, on one network shape.

Runs the session's measurement (:class:`nni_jupyter.inference.autotune.Tuner`, with a cache of its
own so it measures afresh) and prints what it chose, how long it took and its table; then
times every candidate by hand at the real patch (the fastest of rounds taken in turns) and prints
the ratio of auto's choice to the fastest candidate found by hand (target: at most 1.05). Where
OpenVINO is installed (and ``NNI_JUPYTER_OPENVINO`` is not 0) its candidates are among both. The
first line names the CPU, its speed flags and the threads.

    python bench/autotune.py                          # small bench network, patch 64^3
    python bench/autotune.py --full --patch 128       # v1.0 shape, patch 128^3
    python bench/autotune.py --full --compile         # v1.0 at 192^3, compiled candidates too
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from levers import network_for  # noqa: E402
from session_latency import FULL, SMALL  # noqa: E402

from nni_jupyter.inference import devices, layout, measure, openvino_backend, tuning  # noqa: E402
from nni_jupyter.inference.autotune import Tuner  # noqa: E402
from nni_jupyter.inference.candidates import (  # noqa: E402
    Candidate,
    eager_candidates,
    exported_candidates,
)
from nni_jupyter.inference.cpus import cpu_description, cpuinfo  # noqa: E402
from nni_jupyter.inference.precision import Autocast, autocast  # noqa: E402
from nni_jupyter.inference.warm import WAITING, CompilingRunner  # noqa: E402

CPU = torch.device("cpu")
CHANNELS = 1 + layout.NUM_INTERACTION_CHANNELS


def run_auto(network: torch.nn.Module, patch: list[int], compile_setting: bool | str) -> Candidate:
    """The session's measurement, from an empty cache; prints its choice, time and table."""
    os.environ[tuning.CACHE_ENV] = tempfile.mkdtemp(prefix="autotune_bench_")
    chosen: list[tuning.Choice] = []
    start = time.perf_counter()
    tuner = Tuner(network, patch, CHANNELS, CPU, compile_setting)
    tuner.start(chosen.append)
    on_loading = time.perf_counter() - start
    first = f"{chosen[0].candidate.label} chosen while loading" if chosen else "fp32 meanwhile"
    tuner.wait()
    total = time.perf_counter() - start
    print(
        f"auto: {on_loading:.1f} s before the first prompt ({first}), "
        f"{total - on_loading:.1f} s more on a thread while prompts run, {total:.1f} s all"
    )
    print(chosen[-1].table())
    print(f"auto chose: {chosen[-1].reason}\n")
    return chosen[-1].candidate


def by_hand(
    network: torch.nn.Module, patch: list[int], compiled: bool, budget_s: float
) -> list[measure.Measurement]:
    """Every candidate at the real patch (with ``compiled``, each precision compiled too; where
    OpenVINO is installed, the network exported to it in each precision)."""
    wanted = eager_candidates(cpuinfo()[1])
    runs: dict[Candidate, Callable[[torch.Tensor], torch.Tensor]] = dict(
        measure.callables(network, CPU, wanted)
    )
    example = measure.probe_input(CHANNELS, patch, CPU)
    if openvino_backend.available():
        folder = Path(tempfile.mkdtemp(prefix="autotune_bench_openvino_"))
        small = measure.probe_input(CHANNELS, measure.probe_shape(network, patch, 64**3), CPU)
        xml = openvino_backend.export(network, small, folder)
        for candidate in exported_candidates(cpuinfo()[1]):
            runs[candidate] = openvino_backend.compile_runner(
                xml, [1, CHANNELS, *patch], candidate.precision, torch.get_num_threads(), network
            )
    if compiled:
        for precision in sorted({c.precision for c in wanted}):
            copied = copy.deepcopy(network)
            runner = CompilingRunner(copied)
            runs[Candidate(precision, compiled=True)] = _compiled(
                runner, copied, precision, example
            )
    return measure.time_candidates(runs, example, budget_s)


def _compiled(
    runner: CompilingRunner, network: torch.nn.Module, precision: str, example: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A pass of ``runner`` in ``precision``; the first call compiles (untimed, as every
    candidate's first call is)."""
    wrapped = Autocast(runner, CPU, precision, eager=network)

    def context() -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(devices.inference(CPU))
        stack.enter_context(autocast(CPU, precision))
        return stack

    def run(tensor: torch.Tensor) -> torch.Tensor:
        if runner.state == WAITING:
            runner.compile_now(example, context)
        out: torch.Tensor = wrapped(tensor)
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="ResEnc-L v1.0 shape")
    parser.add_argument("--patch", type=int, default=None, help="patch edge (64; full: 192)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="compiled candidates too")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of timed rounds")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = FULL if args.full else SMALL
    patch = [args.patch or (192 if args.full else 64)] * 3
    print(f"CPU: {cpu_description()}")
    print(f"ResEnc features {spec['features']}, patch {patch}, compile {args.compile}\n")
    network = network_for(spec)
    auto = run_auto(network, patch, "auto" if args.compile else False)
    hand = by_hand(network_for(spec), patch, args.compile, args.budget)
    fp32 = next(m.seconds for m in hand if m.candidate == Candidate())
    print(f"by hand at patch {patch}:")
    for m in sorted(hand, key=lambda m: m.seconds):
        flag = " <- auto" if m.candidate == auto else ""
        note = "" if m.usable else " (masks differ from fp32)"
        speed = f"{m.seconds:8.3f} s  {fp32 / m.seconds:5.2f}x fp32"
        print(f"  {m.candidate.label:28s} {speed}{flag}{note}")
    best = measure.fastest(hand)
    mine = next((m for m in hand if m.candidate == auto), None)
    if mine is None:
        print(f"auto's {auto.label} was not timed by hand (slower than 1.5x the best in round 1)")
        return
    ratio = mine.seconds / best.seconds
    print(f"\nauto ({auto.label}) / fastest by hand ({best.candidate.label}) = {ratio:.2f}")


if __name__ == "__main__":
    main()
