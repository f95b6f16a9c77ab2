"""Which levers make one forward pass faster on this machine: precision, the float32 logits of bf16,
channels-last memory, torch.compile, the traced-and-frozen graph, inference mode, oneDNN's implicit
bf16 for fp32 convolutions, thread pinning, an ONNX Runtime export, an OpenVINO export, the thread
count.

Each row runs the same random-weight ResEnc network on the same input (median of ``--repeats``
runs after one warm-up run) and prints seconds, the ratio to float32 eager at the same thread count
and the voxel agreement of the argmax with float32. The first line names the CPU, the flags that
decide its speed and the threads: figures from different machines are not one table.

    python bench/levers.py                        # small bench network, patch 64^3
    python bench/levers.py --full --patch 128     # v1.0 shape (ResEnc-L), patch 128^3
    python bench/levers.py --compile              # add torch.compile rows (slow to compile)
    python bench/levers.py --onnx                 # add ONNX Runtime rows (needs onnxruntime, onnx)
    python bench/levers.py --openvino             # add OpenVINO rows (the openvino extra)
    python bench/levers.py --pin                  # add rows from a child with OMP_PROC_BIND=close
    python bench/levers.py --full --patch 192 --threads 2 --compile   # what a v1.0 session gets
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from session_latency import FULL, SMALL  # noqa: E402

from nni_jupyter.inference import layout, openvino_backend  # noqa: E402
from nni_jupyter.inference.checkpoint import build_network  # noqa: E402
from nni_jupyter.inference.cpus import cpu_description  # noqa: E402
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
    settings["fp32 no_grad, not inference"] = lambda: _outside_inference_mode(network, example)
    settings["fp32, oneDNN conv as bf16"] = lambda: _implicit_bf16(network, example)
    settings["bf16 cl, oneDNN conv as bf16"] = lambda: _implicit_bf16(
        Autocast(_channels_last(network), CPU, "bf16"), last
    )
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


def _outside_inference_mode(network: torch.nn.Module, example: torch.Tensor) -> torch.Tensor:
    """One pass under ``no_grad`` only (the rows run inside ``inference_mode`` otherwise)."""
    with torch.inference_mode(False), torch.no_grad():
        out: torch.Tensor = network(example.clone())
    return out


def _implicit_bf16(network: torch.nn.Module, example: torch.Tensor) -> torch.Tensor:
    """One pass with oneDNN computing float32 convolutions in bfloat16 (its fpmath mode)."""
    conv = torch.backends.mkldnn.conv  # type: ignore[attr-defined]
    conv.fp32_precision = "bf16"
    try:
        out: torch.Tensor = network(example)
    finally:
        conv.fp32_precision = "none"
    return out


def onnx_rows(network: torch.nn.Module, example: torch.Tensor, threads: int) -> dict:
    """ONNX Runtime (CPU provider, all graph optimisations) on the float32 network exported at
    ``example``'s shape; empty where onnxruntime or onnx is not installed."""
    try:
        import onnxruntime
    except ImportError:
        print("onnxruntime not installed: no ONNX rows (pip install onnxruntime onnx)")
        return {}
    folder = Path(tempfile.mkdtemp(prefix="levers_onnx_"))
    path = folder / "network.onnx"
    start = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            network, (example,), str(path), input_names=["x"], opset_version=17, dynamo=False
        )
    print(f"ONNX export {time.perf_counter() - start:.1f} s")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    ort = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {"x": example.numpy()}
    return {"fp32 ONNX Runtime": lambda: torch.from_numpy(ort.run(None, feed)[0])}


def openvino_rows(network: torch.nn.Module, example: torch.Tensor, threads: int) -> dict:
    """The network exported to OpenVINO as a session exports it (traced on a 64^3 probe, run at
    ``example``'s shape), in float32 and in bfloat16; empty where openvino is not installed."""
    if not openvino_backend.available():
        print("openvino not installed (or NNI_JUPYTER_OPENVINO=0): no OpenVINO rows")
        return {}
    small = torch.zeros(1, example.shape[1], 64, 64, 64)
    start = time.perf_counter()
    xml = openvino_backend.export(network, small, Path(tempfile.mkdtemp(prefix="levers_ov_")))
    print(f"OpenVINO export {time.perf_counter() - start:.1f} s")
    rows: dict[str, Callable[[], torch.Tensor]] = {}
    for precision in ("fp32", "bf16"):
        runner = openvino_backend.compile_runner(
            xml, list(example.shape), precision, threads, network
        )
        rows[f"{precision} OpenVINO"] = lambda runner=runner: runner(example)
    return rows


def pinned_rows(args: argparse.Namespace, threads: int) -> None:
    """Run fp32 and bf16 rows in a child with OpenMP threads pinned to cores and print them."""
    env = dict(os.environ, OMP_PROC_BIND="close", OMP_PLACES="cores")
    command = [sys.executable, __file__, "--child-rows", "--patch", str(args.patch)]
    command += ["--threads", str(threads), "--repeats", str(args.repeats)]
    command += ["--full"] if args.full else []
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        print(line.replace(" (child)", ", pinned"), flush=True)


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
    parser.add_argument("--onnx", action="store_true", help="add ONNX Runtime rows")
    parser.add_argument("--pin", action="store_true", help="add rows with OpenMP threads pinned")
    parser.add_argument("--openvino", action="store_true", help="add OpenVINO rows")
    parser.add_argument("--child-rows", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    spec = FULL if args.full else SMALL
    network = network_for(spec)
    torch.manual_seed(1)
    example = torch.randn(1, 1 + layout.NUM_INTERACTION_CHANNELS, *[args.patch] * 3)
    if args.child_rows:  # a pinned child: fp32 and bf16 only, no header
        torch.set_num_threads(int(args.threads))
        settings = {
            "fp32 (child)": lambda: network(example),
            "bf16 (child)": lambda: Autocast(network, CPU, "bf16")(example),
        }
        print_rows(timed(settings, args.repeats), int(args.threads), None)
        return
    print(f"CPU: {cpu_description()}")
    print(f"ResEnc features {spec['features']}, patch {args.patch}^3, CPU forward passes")
    print(f"{'setting':28s} {'threads':>7s} {'s':>8s} {'/fp32':>6s} {'agree':>8s}")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        settings = rows(network, example, args.compile)
        if args.onnx:
            settings |= onnx_rows(network, example, threads)
        if args.openvino:
            settings |= openvino_rows(network, example, threads)
        results = timed(settings, args.repeats)
        print_rows(results, threads, results["fp32"])
        if args.pin:
            pinned_rows(args, threads)


def print_rows(results: dict[str, tuple], threads: int, baseline: tuple | None) -> None:
    """One line per setting: seconds, ratio to fp32, voxel agreement with fp32's argmax."""
    seconds_fp32, reference = baseline or next(iter(results.values()))
    for name, (seconds, argmax) in results.items():
        agree = (argmax == reference).float().mean().item()
        print(
            f"{name:28s} {threads:7d} {seconds:8.3f} {seconds / seconds_fp32:6.2f} {agree:8.5f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
