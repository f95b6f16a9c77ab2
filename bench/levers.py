"""Which levers make one forward pass faster on this machine: precision, the float32 logits of bf16,
channels-last memory, torch.compile, the traced-and-frozen graph, the thread count.

Each row runs the same random-weight ResEnc network on the same input (median of ``--repeats``
runs after one warm-up run) and prints seconds, the ratio to float32 eager at the same thread count
and the voxel agreement of the argmax with float32.

    python bench/levers.py                        # small bench network, patch 64^3
    python bench/levers.py --full --patch 128     # v1.0 shape (ResEnc-L), patch 128^3
    python bench/levers.py --compile              # add torch.compile rows (slow to compile)
    python bench/levers.py --full --patch 192 --threads 2 --compile   # what a v1.0 session gets
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from session_latency import FULL, SMALL  # noqa: E402

from nni_jupyter.inference import layout  # noqa: E402
from nni_jupyter.inference.checkpoint import build_network  # noqa: E402
from nni_jupyter.inference.devices import optimize_for_cpu  # noqa: E402
from nni_jupyter.inference.precision import Autocast  # noqa: E402
from nni_jupyter.inference.warm import CompilingRunner  # noqa: E402

CPU = torch.device("cpu")


def network_for(spec: dict) -> torch.nn.Module:
    """A seeded random network of the given ResEnc shape (as the latency bench writes it)."""
    architecture = layout.resenc_unet_arch(spec["features"], spec["blocks"])
    torch.manual_seed(0)
    return build_network(architecture, 1 + layout.NUM_INTERACTION_CHANNELS, initialize=True).eval()


def timed(settings: dict[str, Callable[[], torch.Tensor]], repeats: int) -> dict[str, tuple]:
    """Per setting: median seconds and the argmax, or the error. Settings take turns round by
    round (after one warm-up call each), so a machine busy with other work slows them alike."""
    results: dict[str, list] = {}
    outputs: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        for name, run in settings.items():
            try:
                outputs[name] = run()[0].argmax(0)
                results[name] = []
            except Exception as error:  # noqa: BLE001 - a lever that fails is reported
                print(f"{name:28s} failed: {str(error).splitlines()[0][:60]}")
        for _ in range(repeats):
            for name in results:
                start = time.perf_counter()
                settings[name]()
                results[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), outputs[name]) for name, t in results.items()}


def rows(network: torch.nn.Module, example: torch.Tensor, compile_rows: bool) -> dict:
    """Name -> a callable running one forward pass under that setting."""
    # copies before Autocast gives ``network`` float32 logits (a copy would share that change)
    whole_bf16, plain, frozen = (copy.deepcopy(network) for _ in range(3))
    bf16_ours = Autocast(network, CPU, "bf16")

    def all_bf16() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out: torch.Tensor = whole_bf16(example)
        return out

    settings: dict[str, Callable[[], torch.Tensor]] = {
        "fp32": lambda: network(example),
        "bf16, 1x1 seg layers fp32 (ours)": lambda: bf16_ours(example),
        "bf16 everywhere": all_bf16,
    }
    last = example.contiguous(memory_format=torch.channels_last_3d)
    settings["fp32 channels-last"] = lambda: _channels_last(network)(last)
    settings["bf16 channels-last"] = lambda: Autocast(_channels_last(network), CPU, "bf16")(last)
    traced = optimize_for_cpu(network, example)
    settings["fp32 traced+frozen"] = lambda: traced(example)
    if compile_rows:
        compiled = torch.compile(network)
        settings["fp32 torch.compile"] = lambda: compiled(example)
        plain_bf16 = Autocast(torch.compile(plain), CPU, "bf16", eager=plain)
        settings["bf16 torch.compile"] = lambda: plain_bf16(example)
        # as a session compiles (use_torch_compile="auto" on a CPU): frozen weights
        runner = CompilingRunner(frozen)
        frozen_bf16 = Autocast(runner, CPU, "bf16", eager=frozen)

        def frozen_pass() -> torch.Tensor:
            if not runner.ready:  # the first (warm-up) call compiles
                runner.compile_now(example, lambda: torch.autocast("cpu", dtype=torch.bfloat16))
            out: torch.Tensor = frozen_bf16(example)
            return out

        settings["bf16 compile, frozen (ours)"] = frozen_pass
    return settings


_CHANNELS_LAST: dict[int, torch.nn.Module] = {}


def _channels_last(network: torch.nn.Module) -> torch.nn.Module:
    """The network with channels-last weights (converted once)."""
    key = id(network)
    if key not in _CHANNELS_LAST:
        _CHANNELS_LAST[key] = copy.deepcopy(network).to(memory_format=torch.channels_last_3d)
    return _CHANNELS_LAST[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="ResEnc-L v1.0 shape")
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--threads", default="2,1", help="thread counts to try")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="add torch.compile rows")
    args = parser.parse_args()
    spec = FULL if args.full else SMALL
    network = network_for(spec)
    torch.manual_seed(1)
    example = torch.randn(1, 1 + layout.NUM_INTERACTION_CHANNELS, *[args.patch] * 3)
    print(f"ResEnc features {spec['features']}, patch {args.patch}^3, CPU forward passes")
    print(f"{'setting':28s} {'threads':>7s} {'s':>8s} {'/fp32':>6s} {'agree':>8s}")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        results = timed(rows(network, example, args.compile), args.repeats)
        baseline, reference = results["fp32"]
        for name, (seconds, argmax) in results.items():
            agree = (argmax == reference).float().mean().item()
            print(
                f"{name:28s} {threads:7d} {seconds:8.3f} {seconds / baseline:6.2f} {agree:8.5f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
