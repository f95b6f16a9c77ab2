"""Train the bundled demo model on synthetic phantoms, on a 2-core CPU, in 88 minutes.

Run: ``python -m nni_jupyter.demo.train [--out DIR] [--minutes 88] [--seed 1234]``

The model is a small ResidualEncoderUNet (5 stages, features [8, 16, 32, 64, 128], 64³ patch)
trained on simulated users (see ``nni_jupyter.demo.simulate``): positive and negative points,
2-D boxes on any axis, lassos and scribbles, imperfect previous segmentations (simulated ones,
and, once the network has trained a while, its own predictions from a first prompt, as
nnInteractive trains), decayed older prompts, and the windows AutoZoom predicts on (zoom 1
refinement patches and zoomed-out context up to 4x). Inputs are encoded as the inference encodes
them (``nni_jupyter.demo.encoding``).

Phantoms come from seeds ``TRAINING_SEED_START`` upwards; the validation printed during training
uses seeds from ``VALIDATION_SEED_START``; evaluation and the quality benchmark use seeds below
both, so they never see a training phantom.

The learning-rate schedule follows wall time (``--minutes``) unless ``--iterations`` is given, so
a slower, shared machine trains fewer iterations in the same time; every random choice comes from
``--seed``. The shipped model is this command with its defaults: seed 1234, 88 minutes, bf16
autocast, 10,766 iterations on 2 otherwise idle CPU cores (see the model folder's
``training.json`` for the losses and validation Dice every 10 minutes). Intermediate model folders
are written every ``--save-minutes``, so a usable model exists early.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# Idle OpenMP threads must sleep, not spin: on a shared CPU spinning threads burn the share the
# working ones need (4x slower iterations measured on 2 busy cores). Read when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ..data import TRAINING_SEED_START
from ..inference.checkpoint import build_network as build_from_plans
from ..inference.layout import (
    INFERENCE_INFO_V2,
    NUM_INTERACTION_CHANNELS,
    make_plans,
    resenc_unet_arch,
    write_model_folder,
)
from . import demo_model_path
from .simulate import TrainingVolume, UserSimulator, prepare_volume

FEATURES = [8, 16, 32, 64, 128]
BLOCKS = [1, 1, 2, 2, 1]
PATCH_SIZE = 64
PHANTOM_SHAPE = (128, 128, 128)
VALIDATION_SEED_START = 50_000
DEEP_SUPERVISION_WEIGHTS = (1.0, 0.5, 0.25)

LICENSE_TEXT = """Apache-2.0

The nni_jupyter demo model: weights trained by nni_jupyter's own script
(python -m nni_jupyter.demo.train) on synthetic phantoms only; no patient data.
Licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0
It segments synthetic phantoms for demos and tests; it is not a medical device and not
meant for real images.
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
    total = torch.zeros(())
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
    """Phantoms to sample from, one replaced by a fresh seed every ``refresh_every`` draws."""

    def __init__(self, size: int, first_seed: int, refresh_every: int, rng: np.random.Generator):
        self.next_seed = first_seed
        self.volumes: list[TrainingVolume] = [self._new() for _ in range(size)]
        self.refresh_every = refresh_every
        self.draws = 0
        self.rng = rng

    def _new(self) -> TrainingVolume:
        volume = prepare_volume(self.next_seed, PHANTOM_SHAPE)
        self.next_seed += 1
        return volume

    def draw(self) -> TrainingVolume:
        self.draws += 1
        if self.draws % self.refresh_every == 0:
            self.volumes[self.rng.integers(len(self.volumes))] = self._new()
        return self.volumes[self.rng.integers(len(self.volumes))]


def validation_set(n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed examples from held-out phantoms, for the Dice printed during training."""
    rng = np.random.default_rng(seed)
    simulator = UserSimulator(rng, PATCH_SIZE)
    volumes = [prepare_volume(VALIDATION_SEED_START + k, PHANTOM_SHAPE) for k in range(2)]
    return [simulator.sample(volumes[k % 2]) for k in range(n)]


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
    (out / "training.json").write_text(json.dumps(notes, indent=2))


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
    parser.add_argument("--minutes", type=float, default=88.0, help="wall-time budget")
    parser.add_argument("--iterations", type=int, default=None, help="fixed iteration count")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pool", type=int, default=10, help="phantoms held at once")
    parser.add_argument("--refresh-every", type=int, default=60, help="draws per new phantom")
    parser.add_argument("--save-minutes", type=float, default=10.0)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--validation-examples", type=int, default=24)
    parser.add_argument("--large-object-share", type=float, default=0.25)
    parser.add_argument(
        "--object-share", type=float, default=0.15, help="examples drawn over objects, not labels"
    )
    parser.add_argument(
        "--own-prediction-share",
        type=float,
        default=0.5,
        help="correction examples whose previous mask is the network's own prediction",
    )
    parser.add_argument(
        "--own-prediction-from",
        type=float,
        default=0.1,
        help="share of the budget trained before the network's own predictions are used",
    )
    parser.add_argument("--init", type=Path, default=None, help="model folder to start from")
    parser.add_argument(
        "--precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="bf16 autocast (faster on CPUs with AMX or AVX512-BF16; weights stay fp32)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Train and write the demo model folder; see the module docstring."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    network, plans = build_network(deep_supervision=True)
    previous_phases = []
    if args.init is not None:
        checkpoint_file = args.init / "fold_0" / "checkpoint_final.pth"
        checkpoint = torch.load(checkpoint_file, map_location="cpu", weights_only=True)
        network.load_state_dict(checkpoint["network_weights"])
        notes_file = args.init / "training.json"
        if notes_file.is_file():
            earlier = json.loads(notes_file.read_text())
            previous_phases = earlier.pop("previous_phases", []) + [earlier]
    # oneDNN's channels-last 3-D convolutions train about 1.6x faster on CPU
    network = network.to(memory_format=torch.channels_last_3d)
    n_params = sum(p.numel() for p in network.parameters())
    print(f"network: {n_params / 1e6:.2f} M parameters, patch {PATCH_SIZE}^3", flush=True)
    optimizer = torch.optim.AdamW(network.parameters(), lr=args.lr, weight_decay=3e-5)
    pool = VolumePool(args.pool, TRAINING_SEED_START, args.refresh_every, rng)
    simulator = UserSimulator(
        rng,
        PATCH_SIZE,
        large_object_share=args.large_object_share,
        object_share=args.object_share,
        own_prediction_share=args.own_prediction_share,
    )
    validation = validation_set(args.validation_examples, args.seed + 1)
    print(f"setup {time.perf_counter() - start:.1f} s", flush=True)

    notes = {
        "seed": args.seed,
        "minutes_budget": args.minutes,
        "iterations_budget": args.iterations,
        "batch_size": args.batch_size,
        "patch_size": PATCH_SIZE,
        "features_per_stage": FEATURES,
        "blocks_per_stage": BLOCKS,
        "torch_threads": args.threads,
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "lr": args.lr,
        "large_object_share": args.large_object_share,
        "object_share": args.object_share,
        "own_prediction_share": args.own_prediction_share,
        "own_prediction_from": args.own_prediction_from,
        "precision": args.precision,
        "command": "python -m nni_jupyter.demo.train " + " ".join(argv or sys.argv[1:]),
        "previous_phases": previous_phases,
        "training_phantom_seeds_from": TRAINING_SEED_START,
        "validation_phantom_seeds_from": VALIDATION_SEED_START,
        "log": [],
    }
    losses: list[float] = []
    last_save = time.perf_counter()
    iteration = 0
    while True:
        elapsed = time.perf_counter() - start
        progress = elapsed / (args.minutes * 60)
        if args.iterations is not None:
            progress = max(progress, iteration / args.iterations)
        if progress >= 1:
            break
        lr = learning_rate(args.lr, iteration, progress)
        if simulator.predictor is None and progress >= args.own_prediction_from:
            simulator.predictor = _predictor(network, args.precision)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = [simulator.sample(pool.draw()) for _ in range(args.batch_size)]
        x = torch.stack([b[0] for b in batch]).to(memory_format=torch.channels_last_3d)
        y = torch.stack([b[1] for b in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
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
                f"iter {iteration:5d}  {elapsed / 60:6.1f} min  lr {lr:.2e}  "
                f"loss {np.mean(losses[-args.log_every :]):.4f}",
                flush=True,
            )
        if time.perf_counter() - last_save > args.save_minutes * 60:
            _checkpoint(network, plans, args, notes, iteration, losses, validation, start)
            last_save = time.perf_counter()
    _checkpoint(network, plans, args, notes, iteration, losses, validation, start)
    print(
        f"done: {iteration} iterations in {(time.perf_counter() - start) / 60:.1f} min", flush=True
    )


def _predictor(network: torch.nn.Module, precision: str):
    """The training network as a simulator's ``predictor``: one window in, foreground out."""

    @torch.no_grad()
    def predict(x: torch.Tensor) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            outputs = network(x[None].to(memory_format=torch.channels_last_3d))
        logits = outputs[0] if isinstance(outputs, list | tuple) else outputs
        return (logits[0].float().argmax(0) == 1).numpy()

    return predict


def _checkpoint(network, plans, args, notes, iteration, losses, validation, start) -> None:
    dice = validate(network, validation)
    minutes = (time.perf_counter() - start) / 60
    recent = losses[-100:]
    entry = {
        "iteration": iteration,
        "minutes": round(minutes, 2),
        "loss_last_100": round(float(np.mean(recent)), 4) if recent else math.nan,
        "validation_dice": round(dice, 4),
    }
    notes["log"].append(entry)
    notes["iterations"] = iteration
    notes["minutes"] = round(minutes, 2)
    save(network, plans, args.out, notes)
    print(f"saved {args.out} ({entry})", flush=True)


if __name__ == "__main__":
    main()
