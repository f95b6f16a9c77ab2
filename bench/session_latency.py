"""Latency and peak memory: nni_jupyter's session against the reference nnInteractive 2.6.0.

Both sessions load the same checkpoint (random weights in the official folder layout), get the same
image and the same prompts. Ours runs twice, in its default precision (``auto``: on a CPU measured
afresh from an empty cache unless ``--keep-cache``, waited for before the prompts; fp16 on CUDA)
and in fp32 (the parity mode). The first line names the CPU, its speed flags and the threads.
Prints per prompt type the median latency of each and the ratios to the reference, the first
prompt's latency against the steady one, where each prompt's time goes (ours from its own timers,
the reference's forward passes from hooks on its network), then the peak RSS of each on a 256^3
image (each measured in its own process).

    python bench/session_latency.py                       # CPU, small ResEnc (patch 64^3), 160^3
    python bench/session_latency.py --full                # CUDA, ResEnc-L v1.0 shape, 192^3 patch
    python bench/session_latency.py --full-size
        # CPU, ResEnc-L v1.0 shape, 192^3 patch and image, AutoZoom off: one point and one box,
        # no warm-up prompt, no RSS (about 6 forwards of up to a minute each on two threads)

Needs the parity extra (``pip install nninteractive==2.6.0``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout
from nni_jupyter.inference import layout  # noqa: E402
from nni_jupyter.inference.checkpoint import build_network  # noqa: E402
from nni_jupyter.inference.cpus import cpu_description  # noqa: E402

SMALL = {"features": [16, 32, 64, 128, 160], "blocks": [1, 2, 2, 2, 2], "patch": [64, 64, 64]}
FULL = {
    "features": [32, 64, 128, 256, 320, 320],
    "blocks": [1, 3, 4, 6, 6, 6],
    "patch": [192, 192, 192],
}


def write_checkpoint(folder: Path, spec: dict, seed: int = 0) -> Path:
    """A model folder with seeded random weights of the given ResEnc shape."""
    architecture = layout.resenc_unet_arch(spec["features"], spec["blocks"])
    plans = layout.make_plans(architecture, spec["patch"])
    network = build_network(architecture, 1 + layout.NUM_INTERACTION_CHANNELS).to_empty(
        device="cpu"
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in network.named_parameters():
            if parameter.ndim == 1:
                parameter.uniform_(-0.1, 0.1, generator=generator)
                if "norm" in name and name.endswith("weight"):
                    parameter.add_(1)
            else:
                parameter.normal_(0, (2 / parameter[0].numel()) ** 0.5, generator=generator)
    return layout.write_model_folder(folder, plans, network.state_dict(), license_text="bench")


def phantom(size: int, seed: int = 0) -> np.ndarray:
    """An int16 CT-like ``[1, size, size, size]`` image: body, organs, a bright bone, noise.

    Built slab by slab so that making it does not dominate the peak memory being measured.
    """
    rng = np.random.default_rng(seed)
    image = np.empty((1, size, size, size), np.int16)
    axis = np.arange(size, dtype=np.float32) / size
    y, z = np.meshgrid(axis, axis, indexing="ij")
    for i in range(size):
        x = axis[i]
        slab = np.full((size, size), -1000, np.float32)
        slab[((x - 0.5) ** 2 + (y - 0.5) ** 2) < 0.4**2] = 0
        slab += 60 * (((x - 0.45) ** 2 + (y - 0.55) ** 2 + (z - 0.5) ** 2) < 0.12**2)
        slab += 40 * (((x - 0.65) ** 2 + (y - 0.35) ** 2 + (z - 0.4) ** 2) < 0.07**2)
        slab += 900 * (((x - 0.3) ** 2 + (y - 0.3) ** 2) < 0.03**2)
        slab += rng.normal(0, 20, slab.shape).astype(np.float32)
        image[0, i] = slab.astype(np.int16)
    return image


def prompts(
    size: int, repeats: int = 2, kinds: tuple[str, ...] = ("point", "bbox", "scribble", "lasso")
) -> list[tuple[str, Callable]]:
    """(prompt type, call) pairs; each type is used several times, at different places."""
    s = size
    calls: list[tuple[str, Callable]] = []
    for k, offset in enumerate((0, 3, -3)[:repeats]):
        c = [int(0.45 * s) + offset, int(0.55 * s), int(0.5 * s) + offset]
        scribble = np.zeros((int(0.1 * s), 1, 3), np.uint8)
        scribble[:, 0, 1] = 1
        lasso = np.zeros((int(0.1 * s), int(0.1 * s), 1), np.uint8)
        lasso[2:-2, 2:-2] = 1
        lo = [c[0] - int(0.05 * s), c[1], c[2] - 1]
        calls += [
            ("point", lambda ss, c=c, k=k: ss.add_point_interaction(c, k != 1)),
            (
                "bbox",
                lambda ss, c=c: ss.add_bbox_interaction(
                    [
                        [c[0] - s // 10, c[0] + s // 10],
                        [c[1] - s // 12, c[1] + s // 12],
                        [c[2], c[2] + 1],
                    ],
                    True,
                ),
            ),
            (
                "scribble",
                lambda ss, lo=lo, m=scribble: ss.add_scribble_interaction(
                    m,
                    True,
                    interaction_bbox=[
                        [lo[0], lo[0] + m.shape[0]],
                        [lo[1], lo[1] + 1],
                        [lo[2], lo[2] + 3],
                    ],
                ),
            ),
            (
                "lasso",
                lambda ss, c=c, m=lasso: ss.add_lasso_interaction(
                    m,
                    True,
                    interaction_bbox=[
                        [c[0] - m.shape[0] // 2, c[0] - m.shape[0] // 2 + m.shape[0]],
                        [c[1] - m.shape[1] // 2, c[1] - m.shape[1] // 2 + m.shape[1]],
                        [c[2], c[2] + 1],
                    ],
                ),
            ),
        ]
    return [(name, call) for name, call in calls if name in kinds]


#: The sessions compared: ours in its default precision, ours in fp32, the reference.
SESSIONS = {"ours": "auto", "ours fp32": "fp32", "reference": None}
#: Our sessions' ``use_torch_compile`` (``--ours-compile off``: the reference API's call).
OURS_COMPILE: dict[str, bool | str] = {"setting": "auto"}


def make_session(which: str, folder: Path, device: torch.device, threads: int, autozoom: bool):
    """A session of ``which``: ours with its defaults (compiling where ``"auto"`` does, waited
    for here: a user's prompts run eagerly meanwhile), the reference with its own."""
    options: dict = {"use_torch_compile": False}
    if which.startswith("ours"):
        from nni_jupyter.inference import nnInteractiveInferenceSession as Session

        options = {"precision": SESSIONS[which], "use_torch_compile": OURS_COMPILE["setting"]}
    else:
        from nnInteractive.inference.inference_session import (
            nnInteractiveInferenceSession as Session,
        )
    session = Session(
        device=device, verbose=False, torch_n_threads=threads, do_autozoom=autozoom, **options
    )
    start = time.perf_counter()
    session.initialize_from_trained_model_folder(str(folder))
    loaded = time.perf_counter() - start
    if which.startswith("ours"):  # measuring (auto on a CPU) and compiling end before prompts
        session.wait_until_warm()
        seconds = time.perf_counter() - start  # stderr: loading runs with stdout silenced
        state = "compiled" if session.compiled else "not compiled"
        print(
            f"  {which}: loaded in {loaded:.1f} s, measured/compiled after {seconds:.0f} s: "
            f"{session.performance}; {state}",
            file=sys.stderr,
            flush=True,
        )
        if session.tuning is not None:
            print(session.tuning.table(), file=sys.stderr, flush=True)
    return session


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def quiet(call: Callable):
    """Run ``call`` with stdout silenced (the reference prints on every prediction)."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        sys.stdout.flush()
        os.dup2(null.fileno(), 1)
        try:
            return call()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


class ForwardTimer:
    """Times a network's forward passes from outside, with hooks (works on the reference too)."""

    def __init__(self, network: torch.nn.Module, device: torch.device):
        self.device, self.seconds, self.count, self._start = device, 0.0, 0, 0.0
        network.register_forward_pre_hook(self._before)
        network.register_forward_hook(self._after)

    def _before(self, *_: object) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def _after(self, *_: object) -> None:
        _sync(self.device)
        self.seconds += time.perf_counter() - self._start
        self.count += 1


def timed_prompt(session, call: Callable, device: torch.device, hooks: ForwardTimer) -> dict:
    """Run one prompt; return its total seconds and where they went."""
    from nni_jupyter.inference import timing

    np.random.seed(0)
    hooks.seconds, hooks.count = 0.0, 0
    with timing.recording(device) as recorder:
        _sync(device)
        start = time.perf_counter()
        quiet(lambda: call(session))
        _sync(device)
        total = time.perf_counter() - start
    steps = dict(recorder.seconds) or {"forward (hooks)": hooks.seconds}
    return {"total": total, "steps": steps, "forwards": hooks.count}


def latency(
    folder: Path, size: int, device: torch.device, threads: int, autozoom: bool, args
) -> tuple[dict, dict, dict]:
    """Per session: seconds per prompt type (lists), the first prompt's seconds, and the summed
    time per step over all prompts. Prompts are interleaved between the sessions."""
    image = phantom(size)
    sessions, hooks = {}, {}
    for which in session_names(args):
        session = quiet(lambda w=which: make_session(w, folder, device, threads, autozoom))
        session.set_image(image)
        session.set_target_buffer(torch.zeros(image.shape[1:], dtype=torch.uint8))
        sessions[which] = session
        # ours: hooks on the precision wrapper, outside the compiled graph (hooks on the
        # network itself would make dynamo recompile it, hooks and all)
        hooks[which] = ForwardTimer(getattr(session, "_runner", None) or session.network, device)
    timings: dict[str, dict[str, list[float]]] = {w: {} for w in sessions}
    steps: dict[str, dict[str, float]] = {w: {} for w in sessions}
    first: dict[str, float] = {}
    buffers = {w: s.target_buffer for w, s in sessions.items()}
    kinds = tuple(args.kinds.split(","))
    calls = prompts(size, args.repeats, kinds)
    for which, session in sessions.items():  # the first prompt pays one-off costs
        if args.no_first:
            break
        first[which] = timed_prompt(session, calls[0][1], device, hooks[which])["total"]
        session.reset_interactions()
    for name, call in calls:
        for which, session in sessions.items():
            result = timed_prompt(session, call, device, hooks[which])
            timings[which].setdefault(name, []).append(result["total"])
            for step, seconds in result["steps"].items():
                steps[which][step] = steps[which].get(step, 0.0) + seconds
            steps[which]["total"] = steps[which].get("total", 0.0) + result["total"]
            steps[which]["forwards"] = steps[which].get("forwards", 0) + result["forwards"]
        agree = ", ".join(
            f"{w} {(buffers[w] == buffers['reference']).float().mean().item():.5f}"
            for w in sessions
            if w != "reference"
        )
        times = "  ".join(f"{w} {timings[w][name][-1]:7.3f} s" for w in sessions)
        print(f"  {name:9s} {times}   agreement with the reference: {agree}", flush=True)
    return timings, first, steps


def rss_child(
    which: str, folder: str, size: int, device: str, threads: int, autozoom: bool
) -> None:
    """In a fresh process: load, set a size^3 image, add a point and a scribble; print peak RSS
    in MiB."""
    image = phantom(size)
    session = quiet(
        lambda: make_session(which, Path(folder), torch.device(device), threads, autozoom)
    )
    session.set_image(image)
    session.set_target_buffer(torch.zeros(image.shape[1:], dtype=torch.uint8))
    # a point and a scribble: small prompts, so the figure is memory, not refinement work
    for name, call in prompts(size)[:4]:
        if name in ("point", "scribble"):
            quiet(lambda c=call: c(session))
    peaks = {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.device(device).type == "cuda":
        peaks["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 1024**2
    print(json.dumps(peaks))


def peak_rss(
    which: str, folder: Path, size: int, device: str, threads: int, autozoom: bool
) -> dict[str, float]:
    """Peak RSS (and, on CUDA, peak GPU memory) in MiB of one implementation, in its own process."""
    command = [
        sys.executable,
        __file__,
        "--rss-child",
        which,
        "--folder",
        str(folder),
        "--size",
        str(size),
        "--device",
        device,
        "--threads",
        str(threads),
    ]
    if not autozoom:
        command.append("--no-autozoom")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def report_latency(folder: Path, args: argparse.Namespace, device: str) -> None:
    """Print the median latency per prompt type, the ratios to the reference, the first prompt
    against the steady latency and the time per step."""
    timings, first, steps = latency(
        folder, args.size, torch.device(device), args.threads, not args.no_autozoom, args
    )
    medians = {w: {k: statistics.median(v) for k, v in t.items()} for w, t in timings.items()}
    ours = [w for w in timings if w != "reference"]
    print(
        f"\n{'prompt':10s} "
        + " ".join(f"{w + ' (s)':>18s}" for w in timings)
        + " "
        + " ".join(f"{w + '/ref':>18s}" for w in ours)
    )
    every = {w: statistics.median([x for v in t.values() for x in v]) for w, t in timings.items()}
    for name, row in [
        *((n, {w: medians[w][n] for w in timings}) for n in medians["ours"]),
        ("all", every),
    ]:
        print(
            f"{name:10s} "
            + " ".join(f"{row[w]:18.3f}" for w in timings)
            + " "
            + " ".join(f"{row[w] / row['reference']:18.2f}" for w in ours)
        )
    if first:
        print("\nfirst prompt / steady median per prompt:")
        for which in timings:
            print(
                f"  {which:14s} {first[which]:8.3f} s / {every[which]:8.3f} s = "
                f"{first[which] / every[which]:.2f}"
            )
    print("\nwhere the time goes, summed over all prompts (s; the reference: forwards by hooks):")
    for which in timings:
        parts = ", ".join(
            f"{step} {seconds:.3f}" for step, seconds in steps[which].items() if step != "forwards"
        )
        print(f"  {which:14s} {int(steps[which]['forwards'])} forwards; {parts}")


def session_names(args: argparse.Namespace) -> list[str]:
    """The sessions compared in this run, the reference last."""
    return [w for w in SESSIONS if w != "reference"] + ["reference"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="ResEnc-L v1.0 shape on CUDA")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=160, help="latency image edge (voxels)")
    parser.add_argument("--patch", type=int, default=None, help="patch edge (default 64, full 192)")
    parser.add_argument("--rss-size", type=int, default=256, help="RSS image edge (voxels)")
    parser.add_argument("--no-autozoom", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--kinds", default="point,bbox,scribble,lasso", help="prompt types")
    parser.add_argument("--repeats", type=int, default=2, help="prompts per type (1 to 3)")
    parser.add_argument(
        "--full-size",
        action="store_true",
        help="CPU, v1.0 shape, 192^3: a point and a box, AutoZoom off, no warm-up, no RSS",
    )
    parser.add_argument("--no-first", action="store_true", help="no warm-up prompt")
    parser.add_argument(
        "--ours-compile", choices=["auto", "off"], default="auto", help="our use_torch_compile"
    )
    parser.add_argument(
        "--keep-cache", action="store_true", help="use the measured precision cached before"
    )
    parser.add_argument("--rss-child", choices=["ours", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full_size:
        args.full = args.no_autozoom = args.skip_rss = args.no_first = True
        args.device, args.kinds, args.repeats = "cpu", "point,bbox", 1
        args.size = max(args.size, 192)
    device = args.device or ("cuda" if args.full else "cpu")
    if args.rss_child:
        rss_child(
            args.rss_child, args.folder, args.size, device, args.threads, not args.no_autozoom
        )
        return
    torch.set_num_threads(args.threads)
    OURS_COMPILE["setting"] = "auto" if args.ours_compile == "auto" else False
    if not args.keep_cache:  # ours measures afresh (in the RSS children too: they inherit it)
        os.environ["NNI_JUPYTER_CACHE_DIR"] = tempfile.mkdtemp(prefix="session_latency_")
    spec = dict(FULL if args.full else SMALL)
    if args.patch:
        spec["patch"] = [args.patch] * 3
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_checkpoint(Path(tmp) / "model", spec)
        print(f"CPU: {cpu_description(args.threads)}")
        print(
            f"device {device}, threads {args.threads}, ResEnc features {spec['features']}, "
            f"patch {spec['patch']}, image {args.size}^3, autozoom {not args.no_autozoom}"
        )
        if not args.skip_latency:
            report_latency(folder, args, device)
        if not args.skip_rss:
            peaks = {
                w: peak_rss(w, folder, args.rss_size, device, args.threads, not args.no_autozoom)
                for w in ("ours", "reference")
            }  # "ours" in its default precision
            for key, what in (("peak_rss_mib", "peak RSS"), ("peak_gpu_mib", "peak GPU memory")):
                if key in peaks["ours"]:
                    ours, ref = peaks["ours"][key], peaks["reference"][key]
                    print(
                        f"\n{what}, {args.rss_size}^3 int16 image, a point and a scribble: "
                        f"ours {ours:.0f} MiB, reference {ref:.0f} MiB, ratio {ours / ref:.2f}"
                    )


if __name__ == "__main__":
    main()
