"""Adopt a GPU training phase's demo model only if it is better on the held-out families.

``bash bench/gpu.sh train`` leaves a model folder under ``$OUT/demo-model`` on the GPU machine;
back here, one command decides::

    python bench/adopt_demo_phase.py <that folder> [--objects 12] [--threads 2]

It checks the folder (the official layout, a checkpoint that loads with ``weights_only=True``,
the bundled model's network, a ``training.json`` whose last phase says where it came from), then
runs ``bench/demo_quality.py``'s held-out rows (shape families never trained on) for the bundled
model and the candidate. The candidate replaces ``nni_jupyter/demo/model`` only when the mean
of its held-out one point, three clicks and one 2-D box Dice rises and none of the three falls
by more than ``--tolerance``; both results go into the phase's record in ``training.json``.
Exit 1 when it is not adopted. ``--check-only`` stops after the folder checks (the CI dry run).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from demo_quality import run_model  # bench/, this script's folder, is on sys.path

from nni_jupyter.weights import demo_model_path, is_model_folder
from nni_jupyter.weights.layout import CHECKPOINT

#: the columns that decide (demo_quality's names)
DECIDING = ("one point", "three clicks", "one 2-D box")
FILES = ("plans.json", "dataset.json", "inference_info.json", "LICENSE", "training.json")


def check_candidate(folder: Path, bundled: Path) -> dict:
    """Refuse a folder that is not a demo model from a training phase; return its last phase."""
    if not is_model_folder(folder) or not (folder / CHECKPOINT).is_file():
        raise SystemExit(f"{folder} is not a model folder (expected plans.json and {CHECKPOINT})")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise SystemExit(
            f"{folder} lacks {missing}: not written by python -m nni_jupyter.demo.train"
        )
    plans = json.loads((folder / "plans.json").read_text(encoding="utf-8"))
    if plans != json.loads((bundled / "plans.json").read_text(encoding="utf-8")):
        raise SystemExit(f"{folder}/plans.json differs from the bundled model's: another network")
    weights = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
    ours = torch.load(bundled / CHECKPOINT, map_location="cpu", weights_only=True)
    shapes = {k: tuple(v.shape) for k, v in weights["network_weights"].items()}
    if shapes != {k: tuple(v.shape) for k, v in ours["network_weights"].items()}:
        raise SystemExit(f"{folder}'s weights do not fit the bundled model's network")
    notes = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    if not notes.get("phases"):
        raise SystemExit(f"{folder}/training.json records no training phase")
    phase = notes["phases"][-1]
    print(
        f"candidate {folder}: phase {phase['phase']} on {phase.get('device', 'cpu')}, "
        f"iterations {phase['first_iteration']} -> {phase.get('last_iteration')}, "
        f"{phase.get('minutes')} min; started from {notes.get('init')}"
    )
    return phase


def held_out_means(model: Path, args: argparse.Namespace) -> dict[str, float]:
    """Mean Dice over the held-out families' objects, per deciding column."""
    options = argparse.Namespace(
        objects=args.objects,
        min_voxels=1000,
        max_clicks=3,
        threads=args.threads,
        no_real=True,
        held_out_only=True,
    )
    rows = run_model(model, options)
    objects = [o for per_object in rows.values() for o in per_object]
    return {column: round(float(np.mean([o[column] for o in objects])), 4) for column in DECIDING}


def decide(before: dict[str, float], after: dict[str, float], tolerance: float) -> str | None:
    """None when ``after`` is better, else why not."""
    gain = np.mean([after[c] for c in DECIDING]) - np.mean([before[c] for c in DECIDING])
    worse = [c for c in DECIDING if after[c] < before[c] - tolerance]
    if gain <= 0:
        return f"the held-out mean does not rise ({gain:+.4f})"
    if worse:
        return f"{worse} fall by more than {tolerance}"
    return None


def adopt(candidate: Path, bundled: Path, record: dict) -> None:
    """Copy the candidate's files over the bundled model's, with ``record`` in its last phase."""
    notes = json.loads((candidate / "training.json").read_text(encoding="utf-8"))
    notes["phases"][-1]["adoption"] = record
    for name in FILES[:-1]:
        shutil.copyfile(candidate / name, bundled / name)
    shutil.copyfile(candidate / CHECKPOINT, bundled / CHECKPOINT)
    (bundled / "training.json").write_text(json.dumps(notes, indent=2), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path, help="the model folder a GPU phase wrote")
    parser.add_argument("--objects", type=int, default=12, help="objects per held-out family")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--check-only", action="store_true", help="only check the folder")
    parser.add_argument(
        "--into", type=Path, default=None, help="the model to beat and replace (the bundled one)"
    )
    args = parser.parse_args()
    bundled = demo_model_path() if args.into is None else args.into
    check_candidate(args.candidate, bundled)
    if args.check_only:
        print("candidate checked (--check-only: no quality run, nothing adopted)")
        return
    start = time.perf_counter()
    before = held_out_means(bundled, args)
    after = held_out_means(args.candidate, args)
    why_not = decide(before, after, args.tolerance)
    record = {
        "decided_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python bench/adopt_demo_phase.py " + " ".join(sys.argv[1:]),
        "held_out_objects_per_family": args.objects,
        "held_out_before": before,
        "held_out_after": after,
        "adopted": why_not is None,
    }
    print(json.dumps(record, indent=1), f"\n({time.perf_counter() - start:.0f} s)")
    if why_not is not None:
        print(f"not adopted: {why_not}; the bundled model is unchanged")
        sys.exit(1)
    adopt(args.candidate, bundled, record)
    print(f"adopted into {bundled}; commit it with its training.json")


if __name__ == "__main__":
    main()
