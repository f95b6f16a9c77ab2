"""After a hand edit, should the session keep the earlier prompts' channels or start from the mask?

Issue 27, item 3. The simulated user of the evaluation protocol gives a 2-D box on each phantom
organ, then corrects by hand the slice where the box's mask is most wrong (that slice becomes the
organ's true slice: an eraser and brush pass), then gives the protocol's corrective click
(:func:`nni_jupyter.evaluation.protocol.next_click`). The click runs on a session that either

- **reseed** (what the runner does): starts over from the edited mask, as ``add_mask`` does
  (``add_initial_seg_interaction(mask, run_prediction=False)``: the box's channel is dropped, the
  previous-segmentation channel and target hold the edited mask), or
- **keep**: keeps the box's channel and only writes the edited mask into the previous-segmentation
  channel and the target (through the session's internals; no public API does this).

Printed per mode: mean Dice after the edit and after the click, the share of the edited slice's
corrected voxels the click keeps, and the count of objects where the mode is better. The demo model
on CPU: ``python bench/edit_then_click.py [--seeds 3 11] [--shape 96 96 96] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from nni_jupyter.data import ORGAN_LABELS, phantom
from nni_jupyter.evaluation.protocol import box_prompt, dice, next_click
from nni_jupyter.weights import load_session

MODES = ("reseed", "keep")


def worst_slice(mask: np.ndarray, truth: np.ndarray) -> int:
    """The axial slice where the mask differs from the truth in the most voxels."""
    return int((mask != truth).sum(axis=(0, 1)).argmax())


def edited(mask: np.ndarray, truth: np.ndarray, z: int) -> np.ndarray:
    """The mask with slice ``z`` corrected by hand (erased and painted to the truth)."""
    out = mask.copy()
    out[:, :, z] = truth[:, :, z]
    return out


def continue_from(session, mask: np.ndarray, mode: str) -> None:
    """Make the session continue from ``mask`` after the box: reseed or keep its channels."""
    if mode == "reseed":
        session.add_initial_seg_interaction(mask, run_prediction=False)
        return
    ready = session._ready()  # noqa: SLF001 - the measurement needs the channel store
    state = ready.state
    whole = [[0, s] for s in mask.shape]
    values = torch.from_numpy(mask.astype(np.uint8))
    state.write_channel(state.prev_channel, whole, values.to(torch.float16))
    state.write_target(whole, values)


def one_object(session, buffer: np.ndarray, truth: np.ndarray, mode: str) -> dict:
    session.reset_interactions()
    buffer[:] = 0
    session.add_bbox_interaction(box_prompt(truth, axis=2), include_interaction=True)
    boxed = buffer.copy().astype(bool)
    z = worst_slice(boxed, truth)
    mask = edited(boxed, truth, z)
    continue_from(session, mask.astype(np.uint8), mode)
    click = next_click(mask, truth)
    if click is not None:
        point, positive = click
        session.add_point_interaction(point, include_interaction=positive)
    after = buffer.astype(bool)
    corrected = boxed[:, :, z] != truth[:, :, z]
    kept = (after[:, :, z] == truth[:, :, z])[corrected].mean() if corrected.any() else 1.0
    return {
        "box": dice(boxed, truth),
        "edit": dice(mask, truth),
        "click": dice(after, truth),
        "edit_kept": float(kept),
    }


def run(seeds: list[int], shape: tuple[int, int, int]) -> dict:
    session = load_session("demo", device="cpu", show_license=None, precision="fp32")
    rows = []
    for seed in seeds:
        image, labels = phantom(shape, seed=seed)
        buffer = np.zeros(image.shape, dtype=np.uint8)
        session.set_image(image[None])
        session.set_target_buffer(buffer)
        for label in ORGAN_LABELS:
            truth = labels == label
            if truth.sum() < 500:
                continue
            row = {"seed": seed, "label": int(label), "voxels": int(truth.sum())}
            for mode in MODES:
                row[mode] = one_object(session, buffer, truth, mode)
            rows.append(row)
            print(
                f"seed {seed} label {label}: click Dice reseed {row['reseed']['click']:.3f}, "
                f"keep {row['keep']['click']:.3f}",
                flush=True,
            )
    summary = {}
    for mode in MODES:
        for figure in ("box", "edit", "click", "edit_kept"):
            summary[f"{mode}_{figure}_mean"] = statistics.fmean(row[mode][figure] for row in rows)
    summary["reseed_better"] = sum(r["reseed"]["click"] > r["keep"]["click"] + 1e-6 for r in rows)
    summary["keep_better"] = sum(r["keep"]["click"] > r["reseed"]["click"] + 1e-6 for r in rows)
    summary["objects"] = len(rows)
    return {"summary": summary, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 11])
    parser.add_argument("--shape", type=int, nargs=3, default=[96, 96, 96])
    parser.add_argument("--json", type=Path, help="also write every object's figures here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    result = run(args.seeds, tuple(args.shape))
    result["summary"]["wall_s"] = time.perf_counter() - started
    for name, value in result["summary"].items():
        print(f"{name:>22} = {value:.4g}" if isinstance(value, float) else f"{name:>22} = {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
