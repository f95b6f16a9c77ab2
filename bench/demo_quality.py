"""Quality of the bundled demo model under the simulated-user protocol.

Runs nni_jupyter's own session (``nni_jupyter.inference.nnInteractiveInferenceSession``) with
AutoZoom on, on CPU, over objects of at least 1000 voxels from held-out phantoms (seeds 0, 1, ...,
all below ``TRAINING_SEED_START`` and the trainer's validation seeds), and prints the mean Dice
per first prompt against the floors of issue 3, then NoC@80/85/90 of the click protocol.

Run from the repository root: ``python bench/demo_quality.py [--min-objects 30]`` (with the
package installed, e.g. ``pip install -e .``, or ``PYTHONPATH=.``). ``--check`` exits 1 when a
floor is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from nni_jupyter.data import LABEL_NAMES, ORGAN_LABELS, TRAINING_SEED_START, phantom
from nni_jupyter.demo import demo_model_path
from nni_jupyter.evaluation import ObjectResult, evaluate_object, iter_objects, summarize
from nni_jupyter.evaluation.protocol import MAX_INTERACTIONS

#: (row of the table, first prompt, interactions, mean Dice floor)
ROWS = [
    ("one point", "point", 1, 0.85),
    ("three clicks", "point", 3, 0.90),
    ("one 2-D box", "box", 1, 0.88),
    ("one lasso on the largest slice", "lasso", 1, 0.80),
    ("one scribble on the largest slice", "scribble", 1, 0.80),
]


def make_session(model: Path, threads: int):
    """Our session on CPU with AutoZoom on, loaded with the model folder."""
    try:
        from nni_jupyter.inference import nnInteractiveInferenceSession
    except ImportError as error:
        raise SystemExit(
            f"nni_jupyter.inference.nnInteractiveInferenceSession is not importable ({error}); "
            "the benchmark measures our own session and cannot run without it"
        ) from error
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=threads, do_autozoom=True, verbose=False
    )
    session.initialize_from_trained_model_folder(str(model))
    return session


def run(args: argparse.Namespace) -> dict[str, list[ObjectResult]]:
    """Evaluate every first prompt on objects of held-out phantoms until enough are collected."""
    session = make_session(args.model, args.threads)
    results: dict[str, list[ObjectResult]] = defaultdict(list)
    seed, n_objects = args.first_seed, 0
    while n_objects < args.min_objects:
        if seed >= TRAINING_SEED_START:
            raise SystemExit("ran out of held-out phantom seeds")
        image, labels = phantom(seed=seed)
        buffer = np.zeros(image.shape, dtype=np.uint8)
        session.set_image(image[None])
        session.set_target_buffer(buffer)
        for label, truth in iter_objects(labels, ORGAN_LABELS, args.min_voxels):
            name = f"seed {seed} {LABEL_NAMES[label]}"
            start = time.perf_counter()
            results["point"].append(
                evaluate_object(
                    session,
                    buffer,
                    truth,
                    "point",
                    max_interactions=args.max_clicks,
                    stop_at=0.90,
                    min_interactions=3,
                    name=name,
                )
            )
            for kind in ("box", "lasso", "scribble"):
                results[kind].append(
                    evaluate_object(session, buffer, truth, kind, max_interactions=1, name=name)
                )
            n_objects += 1
            line = " ".join(
                f"{k}={results[k][-1].dice[0]:.3f}" for k in ("point", "box", "lasso", "scribble")
            )
            print(
                f"[{n_objects:3d}] {name:<28} {int(truth.sum()):6d} vox  {line}  "
                f"clicks to 0.90: {results['point'][-1].noc(0.90):2d}  "
                f"{time.perf_counter() - start:5.1f} s",
                flush=True,
            )
        seed += 1
    return results


def print_table(results: dict[str, list[ObjectResult]], click_cap: int) -> bool:
    """Print the quality table; return whether every floor is met."""
    n = len(results["point"])
    print(f"\nDemo model, our session, AutoZoom on, {n} held-out objects of >= 1000 voxels\n")
    print("| first prompt | mean Dice | floor | |")
    print("|---|---|---|---|")
    all_met = True
    for row, kind, interactions, floor in ROWS:
        value = float(np.mean([r.dice_after(interactions) for r in results[kind]]))
        met = value >= floor
        all_met &= met
        print(f"| {row} | {value:.3f} | {floor:.2f} | {'ok' if met else 'BELOW'} |")
    summary = summarize(results["point"])
    print(
        f"\nNoC (point first; {click_cap} clicks tried, an object never reaching the Dice counts "
        f"{MAX_INTERACTIONS}): @80 {summary['noc@80']:.2f}  "
        f"@85 {summary['noc@85']:.2f}  @90 {summary['noc@90']:.2f}"
    )
    return all_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=demo_model_path(), help="model folder")
    parser.add_argument("--min-objects", type=int, default=30)
    parser.add_argument("--min-voxels", type=int, default=1000)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-clicks", type=int, default=20, help="click budget for NoC")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="exit 1 when a floor is missed")
    args = parser.parse_args()
    start = time.perf_counter()
    results = run(args)
    all_met = print_table(results, args.max_clicks)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.check and not all_met:
        sys.exit(1)


if __name__ == "__main__":
    main()
