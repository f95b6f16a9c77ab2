"""Train the bundled demo model on domain-randomized volumes, on a 2-core CPU, in phases.

Run: ``python -m nni_jupyter.demo.train --out DIR [--minutes 85] [--seed 1234]`` for the first
phase, then ``python -m nni_jupyter.demo.train --out DIR --resume`` for each later one.

The model is a small ResidualEncoderUNet (5 stages, features [8, 16, 32, 64, 128], 64³ patch)
trained on simulated users (see ``nni_jupyter.demo.simulate``): positive and negative points,
2-D boxes on any axis, lassos and scribbles, imperfect previous segmentations (simulated ones,
and, once the network has trained a while, its own predictions from a first prompt, as
nnInteractive trains), decayed older prompts, and the windows AutoZoom predicts on (zoom 1
refinement patches and zoomed-out context up to 4x). Inputs are encoded as the inference encodes
them (``nni_jupyter.demo.encoding``).

Volumes come from ``nni_jupyter.demo.synth`` (``--data mixed``, the default): random shapes of
the training families with random appearance, our CT phantoms one family among them; ``--data
phantom`` trains on phantoms only. Training seeds start at ``TRAINING_SEED_START``; the validation
logged during training uses seeds from ``VALIDATION_SEED_START``, on three groups: phantoms,
training families and the held-out families; the benchmark uses seeds below both.

Phases: each phase runs at most ``MAX_PHASE_MINUTES`` of wall time, at most ``MAX_PHASES``
phases. The learning rate follows the iteration count over ``--planned-iterations`` (fixed by the
first phase), so it decays across the phases as one schedule; a later phase may start a second
schedule after the first has run out (``--restart-lr`` and ``--restart-iterations``) and change
the simulator's shares (``--large-object-share``, ``--initial-share``, ``--point-share`` ...), all
recorded with the phase. At every save the trainer writes the
model folder (official layout, ``training.json`` recording every phase: command, minutes,
iterations, validation curve) and a resume file (``--state``, default ``DIR.resume.pt`` beside the
folder; not part of the model): network, optimizer, iteration, both random generators and the
volume pool, all loadable with ``torch.load(weights_only=True)``. ``--resume`` continues from it
exactly. Every random choice comes from ``--seed``; a phase ended by ``--iterations`` instead of
wall time replays a recorded phase iteration for iteration.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

# Idle OpenMP threads must sleep, not spin: on a shared CPU spinning threads burn the share the
# working ones need (4x slower iterations measured on 2 busy cores). Read when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ..bundled import demo_model_path
from ..data import ORGAN_LABELS, TRAINING_SEED_START
from ..inference.checkpoint import build_network as build_from_plans
from ..inference.layout import (
    INFERENCE_INFO_V2,
    NUM_INTERACTION_CHANNELS,
    make_plans,
    resenc_unet_arch,
    write_model_folder,
)
from .simulate import TrainingVolume, UserSimulator, prepare_volume, split_objects
from .synth import (
    HELD_OUT_FAMILIES,
    TRAINING_FAMILIES,
    VALIDATION_SEED_START,
    synth_volume,
    training_family,
)
from .workers import ExampleWorkers

FEATURES = [8, 16, 32, 64, 128]
BLOCKS = [1, 1, 2, 2, 1]
PATCH_SIZE = 64
PHANTOM_SHAPE = (128, 128, 128)
MAX_PHASE_MINUTES = 85.0
MAX_PHASES = 4
DEEP_SUPERVISION_WEIGHTS = (1.0, 0.5, 0.25)
#: volume seeds apart between the example workers of a phase (``--workers``)
WORKER_SEED_STRIDE = 100_000
#: the simulator's shares and their first-phase defaults
SHARES = {
    "large_object_share": 0.25,
    "object_share": 0.15,
    "own_prediction_share": 0.5,
    "initial_share": 0.5,
    "point_share": 0.35,
}

LICENSE_TEXT = """Apache-2.0

The nni_jupyter demo model: weights trained by nni_jupyter's own script
(python -m nni_jupyter.demo.train) on synthetic volumes only (random shapes and
synthetic CT phantoms); no patient data.
Licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0
A small demo model for demos and tests; it is not a medical device. For real images use
nnInteractive v1.0 (nni_jupyter.download_weights).
"""


def build_network(deep_supervision: bool) -> tuple[torch.nn.Module, dict]:
    """The demo ResidualEncoderUNet and the plans that describe it."""
    arch = resenc_unet_arch(FEATURES, BLOCKS)
    plans = make_plans(arch, [PATCH_SIZE] * 3)
    network = build_from_plans(
        arch, 1 + NUM_INTERACTION_CHANNELS, deep_supervision=deep_supervision, initialize=True
    )
    return network, plans


def segmentation_loss(outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice of the foreground, over the finest deep-supervision outputs."""
    total = torch.zeros((), device=target.device)
    weights = DEEP_SUPERVISION_WEIGHTS[: len(outputs)]
    for logits, weight in zip(outputs, weights, strict=False):
        y = target[:, None]
        if logits.shape[2:] != target.shape[1:]:
            size_x, size_y, size_z = logits.shape[2:]
            y = (F.adaptive_avg_pool3d(y, (size_x, size_y, size_z)) >= 0.5).float()
        ce = F.cross_entropy(logits, y[:, 0].long())
        prob = logits.softmax(1)[:, 1]
        intersection = (prob * y[:, 0]).sum()
        dice = (2 * intersection + 1) / (prob.sum() + y.sum() + 1)
        total = total + weight * (ce + 1 - dice)
    return total / sum(weights)


class VolumePool:
    """Training volumes to sample from, one replaced by the next seed every ``refresh_every``
    draws; ``seeds`` and ``draws`` are the whole state (volumes re-render from their seeds)."""

    def __init__(
        self,
        size: int,
        first_seed: int,
        refresh_every: int,
        rng: np.random.Generator,
        data: str = "mixed",
        seeds: list[int] | None = None,
        draws: int = 0,
    ):
        self.data = data
        self.rng = rng
        self.refresh_every = refresh_every
        self.draws = draws
        self.seeds = (
            list(seeds) if seeds is not None else list(range(first_seed, first_seed + size))
        )
        self.next_seed = max(self.seeds) + 1
        self.volumes: list[TrainingVolume] = [self._render(s) for s in self.seeds]

    def _render(self, seed: int) -> TrainingVolume:
        if self.data == "phantom":
            return prepare_volume(seed, PHANTOM_SHAPE)
        return training_volume(seed, training_family(seed))

    def draw(self) -> TrainingVolume:
        self.draws += 1
        if self.draws % self.refresh_every == 0:
            slot = int(self.rng.integers(len(self.volumes)))
            self.seeds[slot] = self.next_seed
            self.volumes[slot] = self._render(self.next_seed)
            self.next_seed += 1
        return self.volumes[self.rng.integers(len(self.volumes))]

    def state(self) -> dict:
        return {"seeds": list(self.seeds), "draws": self.draws}


def training_volume(seed: int, family: str) -> TrainingVolume:
    """Volume ``seed`` of ``family`` split into objects for the simulator."""
    volume = synth_volume(seed, family)
    values = ORGAN_LABELS if family == "phantom" else None
    return split_objects(volume.image, volume.labels, values)


VALIDATION_GROUPS = {
    "phantom": ("phantom",),
    "synthetic": tuple(f for f in TRAINING_FAMILIES if f != "phantom"),
    "held_out": HELD_OUT_FAMILIES,
}


def validation_set(n: int, seed: int) -> dict[str, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Fixed examples per validation group, from validation seeds, for the Dice logged while
    training."""
    rng = np.random.default_rng(seed)
    simulator = UserSimulator(rng, PATCH_SIZE)
    groups: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    if n == 0:
        return groups
    for group, families in VALIDATION_GROUPS.items():
        volumes = [
            training_volume(VALIDATION_SEED_START + k, families[k % len(families)])
            for k in range(max(2, len(families)))
        ]
        volumes = [v for v in volumes if v.objects]
        groups[group] = [simulator.sample(volumes[k % len(volumes)]) for k in range(n)]
    return groups


@torch.no_grad()
def validate(network: torch.nn.Module, examples: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean Dice of the network's argmax on the validation examples."""
    network.eval()
    predict = _predictor(network, "fp32")
    dices = []
    for x, y in examples:
        pred, truth = predict(x), y.numpy() == 1
        dices.append(2 * (pred & truth).sum() / max(pred.sum() + truth.sum(), 1))
    network.train()
    return float(np.mean(dices))


def save(network: torch.nn.Module, plans: dict, out: Path, notes: dict) -> None:
    """Write the model folder (official layout) plus ``training.json``."""
    # A fresh, contiguous network: its state dict shares storage between the aliased keys of
    # dynamic-network-architectures (conv / all_modules.0, decoder.encoder / encoder), so the
    # file holds each weight once; channels-last copies would be saved four times over.
    export, _ = build_network(deep_supervision=False)
    export.load_state_dict(network.state_dict())
    write_model_folder(
        out,
        plans,
        export.state_dict(),
        inference_info=INFERENCE_INFO_V2,
        license_text=LICENSE_TEXT,
    )
    (out / "training.json").write_text(json.dumps(notes, indent=2), encoding="utf-8")


def learning_rate(base: float, iteration: int, progress: float, warmup: int = 50) -> float:
    """Linear warm-up, then polynomial decay to zero as progress goes 0 -> 1."""
    if iteration < warmup:
        return base * (iteration + 1) / warmup
    return base * max(0.0, 1.0 - progress) ** 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m nni_jupyter.demo.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=demo_model_path(), help="model folder")
    parser.add_argument("--state", type=Path, default=None, help="resume file (DIR.resume.pt)")
    parser.add_argument("--resume", action="store_true", help="continue from the resume file")
    parser.add_argument(
        "--minutes", type=float, default=MAX_PHASE_MINUTES, help="wall time of this phase"
    )
    parser.add_argument(
        "--iterations", type=int, default=None, help="end this phase at this total iteration"
    )
    parser.add_argument(
        "--planned-iterations",
        type=int,
        default=None,
        help="iterations the LR schedule spans over all phases (first phase only; default "
        "--iterations, else 8000)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--data", choices=["mixed", "phantom"], default="mixed")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pool", type=int, default=16, help="volumes held at once")
    parser.add_argument("--refresh-every", type=int, default=12, help="draws per new volume")
    parser.add_argument("--save-minutes", type=float, default=10.0)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--validation-examples", type=int, default=16, help="per group")
    # the simulator's shares: fixed by the first phase, changed by a later one only when given
    parser.add_argument("--large-object-share", type=float, default=None, help="default 0.25")
    parser.add_argument(
        "--object-share",
        type=float,
        default=None,
        help="examples drawn over objects, not labels (default 0.15)",
    )
    parser.add_argument(
        "--own-prediction-share",
        type=float,
        default=None,
        help="correction examples whose previous mask is the network's own prediction "
        "(default 0.5)",
    )
    parser.add_argument(
        "--initial-share",
        type=float,
        default=None,
        help="examples that are a first prompt, not a correction (default 0.5)",
    )
    parser.add_argument(
        "--point-share",
        type=float,
        default=None,
        help="first prompts that are points (default 0.35)",
    )
    parser.add_argument(
        "--restart-lr",
        type=float,
        default=None,
        help="with --resume: start a new learning-rate schedule at this peak",
    )
    parser.add_argument(
        "--restart-iterations",
        type=int,
        default=None,
        help="with --restart-lr: iterations the new schedule spans",
    )
    parser.add_argument(
        "--own-prediction-from",
        type=float,
        default=0.1,
        help="share of the planned iterations trained before the network's own predictions "
        "are used",
    )
    parser.add_argument("--init", type=Path, default=None, help="model folder to start from")
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="bf16 autocast (faster on CPUs with AMX or AVX512-BF16; weights stay fp32)",
    )
    parser.add_argument("--note", default="", help="free text kept with this phase")
    parser.add_argument("--device", default="cpu", help="where the network trains: cpu or cuda")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes making the examples (a GPU machine's cores); 0: this process, exactly "
        "reproducible",
    )
    parser.add_argument(
        "--time-schedule",
        action="store_true",
        help="the learning rate warms up from --lr and decays to zero at this phase's end of "
        "wall time (a phase on a machine whose speed is not known beforehand)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= MAX_PHASE_MINUTES:
        parser.error(f"--minutes must be in (0, {MAX_PHASE_MINUTES}]; got {args.minutes}")
    if args.state is None:
        args.state = args.out.with_name(args.out.name + ".resume.pt")
    args.state.parent.mkdir(parents=True, exist_ok=True)
    if (args.restart_lr is None) != (args.restart_iterations is None):
        parser.error("--restart-lr and --restart-iterations go together")
    if args.time_schedule and (args.resume or args.restart_lr is not None):
        parser.error("--time-schedule runs its own schedule: start it with --init, not --resume")
    if args.restart_lr is not None and not args.resume:
        parser.error("--restart-lr starts a new schedule in a later phase: it needs --resume")
    for name in SHARES:
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 1:
            parser.error(f"--{name.replace('_', '-')} is a share: expected 0 to 1, got {value}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train one phase and write the demo model folder; see the module docstring."""
    args = parse_args(argv)
    command = "python -m nni_jupyter.demo.train " + " ".join(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    network, plans = build_network(deep_supervision=True)
    state = _load_state(args) if args.resume else None
    if state is not None:
        notes = json.loads(state["notes"])
        settings = notes["settings"]
        if len(notes["phases"]) >= MAX_PHASES:
            raise SystemExit(f"{args.state} already holds {MAX_PHASES} phases, the most allowed")
        network.load_state_dict(state["network"])
        iteration = int(state["iteration"])
        changed = _change_settings(args, settings, notes, iteration)
        planned = int(notes["planned_iterations"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
    else:
        settings = _settings(args)
        changed = {}
        torch.manual_seed(args.seed)
        rng = np.random.default_rng(args.seed)
        iteration = 0
        planned = args.planned_iterations or args.iterations or 8000
        notes = _first_notes(args, settings, planned)
        if args.init is not None:
            _load_init(network, args.init, notes)
    # oneDNN's channels-last 3-D convolutions train about 1.6x faster on CPU
    device = torch.device(args.device)
    network = network.to(device).to(memory_format=torch.channels_last_3d)
    n_params = sum(p.numel() for p in network.parameters())
    print(f"network: {n_params / 1e6:.2f} M parameters, patch {PATCH_SIZE}^3", flush=True)
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings["lr"], weight_decay=3e-5)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    pool = simulator = None
    if args.workers == 0:
        pool = VolumePool(
            settings["pool"],
            TRAINING_SEED_START,
            settings["refresh_every"],
            rng,
            settings["data"],
            seeds=(state["pool_seeds"] or None) if state is not None else None,
            draws=int(state["pool_draws"]) if state is not None else 0,
        )
        simulator = _simulator(rng, settings)
    validation = validation_set(settings["validation_examples"], settings["seed"] + 1)
    phase = {
        "phase": len(notes["phases"]) + 1,
        "command": command,
        "note": args.note,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "minutes_budget": args.minutes,
        "first_iteration": iteration,
        "torch_threads": args.threads,
        "cpu_cores": os.cpu_count(),
        "device": _device_name(device),
        "example_workers": args.workers,
        "lr_schedule": "phase wall time" if args.time_schedule else "iterations",
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "settings_changed": changed,
        "log": [],
    }
    notes["phases"].append(phase)
    print(f"phase {phase['phase']}, setup {time.perf_counter() - start:.1f} s", flush=True)

    losses: list[float] = list(state["losses"]) if state is not None else []
    workers = _start_workers(args, settings, notes, phase) if args.workers else None
    last_save = last_publish = time.perf_counter()
    published = False
    deadline = start + args.minutes * 60
    first = iteration
    try:
        while iteration < planned and time.perf_counter() < deadline:
            if args.iterations is not None and iteration >= args.iterations:
                break
            now = time.perf_counter()
            if args.time_schedule:
                progress = (now - start) / (deadline - start)
                lr = learning_rate(settings["lr"], iteration - first, progress)
            else:
                progress = iteration / planned
                lr = _scheduled_lr(settings["lr"], notes, iteration)
            own = progress >= settings["own_prediction_from"]
            for group in optimizer.param_groups:
                group["lr"] = lr
            if workers is None:
                assert simulator is not None and pool is not None
                if simulator.predictor is None and own:
                    simulator.predictor = _predictor(network, settings["precision"])
                batch = [simulator.sample(pool.draw()) for _ in range(settings["batch_size"])]
            else:
                if own and (not published or now - last_publish > PUBLISH_SECONDS):
                    _publish(network, workers_weights(args))
                    last_publish, published = now, True
                batch = workers.take(settings["batch_size"])
            x = torch.stack([b[0] for b in batch]).to(
                device, memory_format=torch.channels_last_3d, non_blocking=True
            )
            y = torch.stack([b[1] for b in batch]).to(device, non_blocking=True)
            with torch.autocast(
                device.type, dtype=torch.bfloat16, enabled=settings["precision"] == "bf16"
            ):
                outputs = network(x)
            loss = segmentation_loss([o.float() for o in outputs], y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 12.0)
            optimizer.step()
            losses.append(loss.item())
            iteration += 1
            if iteration % args.log_every == 0:
                print(
                    f"iter {iteration:5d}  {(time.perf_counter() - start) / 60:6.1f} min  "
                    f"lr {lr:.2e}  loss {np.mean(losses[-args.log_every :]):.4f}",
                    flush=True,
                )
            if time.perf_counter() - last_save > args.save_minutes * 60:
                _checkpoint(
                    network,
                    optimizer,
                    plans,
                    args,
                    notes,
                    iteration,
                    losses,
                    validation,
                    start,
                    rng,
                    pool,
                )
                last_save = time.perf_counter()
    finally:
        if workers is not None:
            workers.close()
    _checkpoint(
        network, optimizer, plans, args, notes, iteration, losses, validation, start, rng, pool
    )
    print(
        f"phase done: iteration {iteration} of {planned} planned, "
        f"{(time.perf_counter() - start) / 60:.1f} min",
        flush=True,
    )


#: How often a phase with example workers hands them its current weights (own predictions).
PUBLISH_SECONDS = 30.0


def _simulator(rng: np.random.Generator, settings: dict) -> UserSimulator:
    return UserSimulator(
        rng,
        PATCH_SIZE,
        large_object_share=settings["large_object_share"],
        object_share=settings["object_share"],
        own_prediction_share=settings["own_prediction_share"],
        initial_share=settings.get("initial_share", SHARES["initial_share"]),
        point_share=settings.get("point_share", SHARES["point_share"]),
    )


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def workers_weights(args: argparse.Namespace) -> Path:
    """The file a phase's example workers read the trainer's weights from."""
    return args.state.with_name(args.state.name + ".workers.pt")


def _publish(network: torch.nn.Module, file: Path) -> None:
    """Write the network's weights (on the CPU) for the workers, atomically."""
    weights = {k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()}
    temporary = file.with_name(file.name + ".tmp")
    torch.save(weights, temporary)
    os.replace(temporary, file)


def _start_workers(
    args: argparse.Namespace, settings: dict, notes: dict, phase: dict
) -> ExampleWorkers:
    """``args.workers`` example processes, each on volume seeds of its own (recorded)."""
    first_seed = TRAINING_SEED_START + WORKER_SEED_STRIDE * (1 + len(notes["previous_training"]))
    seeds = [first_seed + k * WORKER_SEED_STRIDE for k in range(args.workers)]
    phase["worker_volume_seeds_from"] = seeds
    weights = workers_weights(args)
    weights.unlink(missing_ok=True)
    worker_args = [
        (k, settings["seed"] + len(notes["phases"]), seeds[k], settings, str(weights))
        for k in range(args.workers)
    ]
    return ExampleWorkers(worker_examples, worker_args)


def worker_examples(
    worker: int, seed: int, first_volume_seed: int, settings: dict, weights_file: str
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless training examples of one example worker: volumes from ``first_volume_seed`` on,
    its own random stream; the simulator's own predictions use the weights the trainer last
    published to ``weights_file`` (none until it has)."""
    rng = np.random.default_rng([seed, worker])
    pool_size = max(2, settings["pool"] // 4)
    refresh = settings["refresh_every"]
    pool = VolumePool(pool_size, first_volume_seed, refresh, rng, settings["data"])
    simulator = _simulator(rng, settings)
    network, _ = build_network(deep_supervision=False)
    network = network.to(memory_format=torch.channels_last_3d).eval()
    loaded = None
    while True:
        stamp = os.stat(weights_file).st_mtime_ns if os.path.exists(weights_file) else None
        if stamp is not None and stamp != loaded:
            network.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
            # fp32: a worker's CPU may lack native bf16, where bf16 runs several times slower
            simulator.predictor = _predictor(network, "fp32")
            loaded = stamp
        yield simulator.sample(pool.draw())


def _settings(args: argparse.Namespace) -> dict:
    """What the first phase fixes for every later one."""
    names = "seed data batch_size lr pool refresh_every validation_examples".split()
    settings = {name: getattr(args, name) for name in names}
    for name, default in SHARES.items():
        value = getattr(args, name)
        settings[name] = default if value is None else value
    settings["own_prediction_from"] = args.own_prediction_from
    settings["precision"] = args.precision
    return settings


def _change_settings(args: argparse.Namespace, settings: dict, notes: dict, iteration: int) -> dict:
    """Apply a resumed phase's changes (shares given on its command line, a new learning-rate
    schedule) to ``settings`` and ``notes``; return what changed, for the phase's record."""
    changed: dict = {}
    for name, default in SHARES.items():
        value = getattr(args, name)
        if value is not None and value != settings.get(name, default):
            changed[name] = [settings.get(name, default), value]
            settings[name] = value
    if args.restart_lr is not None:
        if iteration < int(notes["planned_iterations"]):
            raise SystemExit(
                f"--restart-lr: the running schedule still has "
                f"{int(notes['planned_iterations']) - iteration} iterations to go; restart "
                "only after it has run out"
            )
        restart = {
            "from_iteration": iteration,
            "iterations": args.restart_iterations,
            "lr": args.restart_lr,
        }
        notes.setdefault("lr_restarts", []).append(restart)
        notes["planned_iterations"] = iteration + args.restart_iterations
        changed["lr_restart"] = restart
    return changed


def _scheduled_lr(base: float, notes: dict, iteration: int) -> float:
    """The learning rate at ``iteration``: the first schedule, or the latest restart's."""
    restarts = notes.get("lr_restarts", [])
    started = [r for r in restarts if iteration >= r["from_iteration"]]
    if not started:  # the first schedule ends where the first restart begins
        first_planned = restarts[0]["from_iteration"] if restarts else notes["planned_iterations"]
        return learning_rate(base, iteration, iteration / first_planned)
    last = started[-1]
    step = iteration - last["from_iteration"]
    return learning_rate(last["lr"], step, step / last["iterations"])


def _first_notes(args: argparse.Namespace, settings: dict, planned: int) -> dict:
    return {
        "seed": args.seed,
        "settings": settings,
        "planned_iterations": planned,
        "max_phase_minutes": MAX_PHASE_MINUTES,
        "max_phases": MAX_PHASES,
        "patch_size": PATCH_SIZE,
        "features_per_stage": FEATURES,
        "blocks_per_stage": BLOCKS,
        "torch": torch.__version__,
        "training_families": list(TRAINING_FAMILIES) if args.data == "mixed" else ["phantom"],
        "held_out_families": list(HELD_OUT_FAMILIES),
        "training_seeds_from": TRAINING_SEED_START,
        "validation_seeds_from": VALIDATION_SEED_START,
        "init": None,
        "previous_training": [],
        "phases": [],
    }


def _load_init(network: torch.nn.Module, folder: Path, notes: dict) -> None:
    """Start from the weights of a model folder; its ``training.json`` joins the record."""
    checkpoint = torch.load(
        folder / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=True
    )
    network.load_state_dict(checkpoint["network_weights"])
    notes["init"] = str(folder)
    notes_file = folder / "training.json"
    if notes_file.is_file():
        earlier = json.loads(notes_file.read_text(encoding="utf-8"))
        notes["previous_training"] = earlier.pop("previous_training", []) + [earlier]


def _load_state(args: argparse.Namespace) -> dict:
    if not args.state.is_file():
        raise SystemExit(
            f"--resume needs the resume file {args.state}, written by an earlier phase; "
            "it is not there (pass --state to name another)"
        )
    return torch.load(args.state, map_location="cpu", weights_only=True)


def _predictor(network: torch.nn.Module, precision: str):
    """The training network as a simulator's ``predictor``: one window in, foreground out."""
    device = next(network.parameters()).device

    @torch.no_grad()
    def predict(x: torch.Tensor) -> np.ndarray:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            outputs = network(x[None].to(device, memory_format=torch.channels_last_3d))
        logits = outputs[0] if isinstance(outputs, list | tuple) else outputs
        return (logits[0].float().argmax(0) == 1).cpu().numpy()

    return predict


def _checkpoint(
    network, optimizer, plans, args, notes, iteration, losses, validation, start, rng, pool
) -> None:
    """Validate, write the model folder and ``training.json``, then the resume file."""
    dices = {group: round(validate(network, examples), 4) for group, examples in validation.items()}
    minutes = (time.perf_counter() - start) / 60
    recent = losses[-100:]
    phase = notes["phases"][-1]
    entry = {
        "iteration": iteration,
        "phase_minutes": round(minutes, 2),
        "loss_last_100": round(float(np.mean(recent)), 4) if recent else math.nan,
        "validation_dice": dices,
        "load_average": [round(v, 2) for v in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }
    phase["log"].append(entry)
    phase["minutes"] = round(minutes, 2)
    phase["last_iteration"] = iteration
    notes["iterations"] = iteration
    notes["minutes"] = round(sum(p.get("minutes", 0.0) for p in notes["phases"]), 2)
    save(network, plans, args.out, notes)
    state = {
        "network": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "iteration": iteration,
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "pool_seeds": pool.state()["seeds"] if pool is not None else [],
        "pool_draws": pool.state()["draws"] if pool is not None else 0,
        "losses": [float(v) for v in losses[-100:]],
        "notes": json.dumps(notes),
    }
    temporary = args.state.with_name(args.state.name + ".tmp")
    torch.save(state, temporary)
    os.replace(temporary, args.state)
    print(f"saved {args.out} ({entry})", flush=True)


if __name__ == "__main__":
    main()
