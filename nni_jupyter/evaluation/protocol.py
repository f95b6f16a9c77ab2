"""The standard simulated-user protocol of interactive segmentation.

For each object: reset the session, give one first prompt (a point at the object's interior
centre, or a 2-D box, lasso or scribble on the slice where its area is largest), then click at
the interior centre of the largest error region (positive in a miss, negative in a false
positive) until the Dice reaches the stopping threshold or the click budget runs out. Dice is
recorded after every interaction; NoC@t is the number of interactions needed to reach Dice t,
counting the first prompt, and ``max_interactions`` (20) when it is never reached.

Works with any :class:`~nni_jupyter.inference.api.Session` (the nnInteractive session API); it
calls ``reset_interactions``, ``add_point_interaction``, ``add_bbox_interaction``,
``add_lasso_interaction`` and ``add_scribble_interaction``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.regions import nonzero_bbox
from ..inference.api import Session
from . import geometry

FIRST_PROMPTS = ("point", "box", "lasso", "scribble")
NOC_THRESHOLDS = (0.80, 0.85, 0.90)
MAX_INTERACTIONS = 20


@dataclass
class ObjectResult:
    """Dice after each interaction on one object.

    Attributes
    ----------
    first_prompt
        One of ``FIRST_PROMPTS``.
    dice
        ``dice[k]`` is the Dice after ``k + 1`` interactions.
    name
        Free-form identifier, e.g. ``"seed 3, liver"``.
    """

    first_prompt: str
    dice: list[float] = field(default_factory=list)
    name: str = ""

    def dice_after(self, interactions: int) -> float:
        """Dice after ``interactions`` interactions; the last value if the run stopped earlier
        (it stops only once the stopping threshold is reached)."""
        if not self.dice:
            raise ValueError("no interaction was recorded for this object")
        return self.dice[min(interactions, len(self.dice)) - 1]

    def noc(self, threshold: float, cap: int = MAX_INTERACTIONS) -> int:
        """Interactions needed to reach ``threshold`` Dice, or ``cap`` when never reached."""
        for k, value in enumerate(self.dice[:cap], start=1):
            if value >= threshold:
                return k
        return cap


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two masks; 1.0 when both are empty."""
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    total = prediction.sum() + truth.sum()
    if total == 0:
        return 1.0
    return float(2 * np.logical_and(prediction, truth).sum() / total)


def next_click(prediction: np.ndarray, truth: np.ndarray) -> tuple[tuple[int, ...], bool] | None:
    """The corrective click: interior centre of the largest error region and its sign.

    Returns
    -------
    tuple or None
        ``((x, y, z), positive)``: positive when the region is a miss (object voxels left out),
        negative when it is a false positive; None when the prediction is perfect.
    """
    prediction, truth = np.asarray(prediction, bool), np.asarray(truth, bool)
    error = prediction != truth
    if not error.any():
        return None
    region = geometry.largest_component(error)
    voxel = geometry.interior_centre(region)
    return voxel, bool(truth[voxel])


def box_prompt(truth: np.ndarray, axis: int | None = None) -> list[list[int]]:
    """Half-open 2-D box (one voxel thick) around the object on its largest slice."""
    slice_axis, index = geometry.largest_slice(truth, axis)
    plane_box = nonzero_bbox(geometry.take_slice(truth, slice_axis, index))
    assert plane_box is not None, "largest_slice returns a slice holding the object"
    box = [list(b) for b in plane_box]
    box.insert(slice_axis, [index, index + 1])
    return box


def lasso_prompt(truth: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Full-volume ``uint8`` filled lasso traced around the object on its largest slice."""
    slice_axis, index = geometry.largest_slice(truth, axis)
    plane = geometry.lasso_mask(geometry.take_slice(truth, slice_axis, index))
    return geometry.put_slice(truth.shape, slice_axis, index, plane)


def scribble_prompt(truth: np.ndarray, axis: int | None = None, thickness: int = 2) -> np.ndarray:
    """Full-volume ``uint8`` stroke along the object's principal axis on its largest slice."""
    slice_axis, index = geometry.largest_slice(truth, axis)
    plane = geometry.scribble_mask(geometry.take_slice(truth, slice_axis, index), thickness)
    return geometry.put_slice(truth.shape, slice_axis, index, plane)


def give_first_prompt(
    session: Session, kind: str, truth: np.ndarray, axis: int | None = None
) -> None:
    """Send the protocol's first prompt of ``kind`` (one of ``FIRST_PROMPTS``) to ``session``."""
    if kind == "point":
        session.add_point_interaction(geometry.interior_centre(truth), include_interaction=True)
    elif kind == "box":
        session.add_bbox_interaction(box_prompt(truth, axis), include_interaction=True)
    elif kind == "lasso":
        session.add_lasso_interaction(lasso_prompt(truth, axis), include_interaction=True)
    elif kind == "scribble":
        session.add_scribble_interaction(scribble_prompt(truth, axis), include_interaction=True)
    else:
        raise ValueError(f"first prompt must be one of {FIRST_PROMPTS}; got {kind!r}")


def evaluate_object(
    session: Session,
    target_buffer: np.ndarray,
    truth: np.ndarray,
    first_prompt: str = "point",
    max_interactions: int = MAX_INTERACTIONS,
    stop_at: float | None = max(NOC_THRESHOLDS),
    min_interactions: int = 1,
    axis: int | None = None,
    name: str = "",
) -> ObjectResult:
    """Run the protocol on one object of the image already set in ``session``.

    Parameters
    ----------
    session
        Any session with the nnInteractive API, image and ``target_buffer`` already set.
    target_buffer
        The array given to ``session.set_target_buffer``; read after each interaction.
    truth
        The object's ground-truth mask, image-shaped.
    first_prompt
        ``"point"``, ``"box"``, ``"lasso"`` or ``"scribble"``.
    max_interactions
        Interaction budget, first prompt included.
    stop_at
        Stop once the Dice reaches this value (NoC up to it is unaffected); None runs the budget.
    min_interactions
        Never stop before this many interactions (so ``dice_after`` is measured, not carried).
    axis
        Restrict the largest-slice search of box, lasso and scribble to one axis.
    """
    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        raise ValueError("the object's truth mask is empty; pass a mask with at least one voxel")
    result = ObjectResult(first_prompt=first_prompt, name=name)
    session.reset_interactions()
    give_first_prompt(session, first_prompt, truth, axis)
    while True:
        prediction = _as_numpy(target_buffer) > 0
        result.dice.append(dice(prediction, truth))
        reached = stop_at is not None and result.dice[-1] >= stop_at
        if (reached and len(result.dice) >= min_interactions) or len(
            result.dice
        ) >= max_interactions:
            return result
        click = next_click(prediction, truth)
        if click is None:
            return result
        session.add_point_interaction(click[0], include_interaction=click[1])


def iter_objects(
    labels: np.ndarray, label_values: Iterable[int], min_voxels: int = 1000
) -> Iterator[tuple[int, np.ndarray]]:
    """``(label, mask)`` for every connected component of the given labels with enough voxels."""
    for label in label_values:
        parts, sizes = geometry.connected_components(labels == label)
        for k, size in enumerate(sizes, start=1):
            if size >= min_voxels:
                yield label, parts == k


def summarize(results: Sequence[ObjectResult], after: Sequence[int] = (1, 3)) -> dict[str, float]:
    """Mean Dice after each count in ``after`` and mean NoC at each threshold."""
    if not results:
        raise ValueError("summarize needs at least one ObjectResult")
    summary = {f"dice@{k}": float(np.mean([r.dice_after(k) for r in results])) for k in after}
    for threshold in NOC_THRESHOLDS:
        summary[f"noc@{round(threshold * 100)}"] = float(
            np.mean([r.noc(threshold) for r in results])
        )
    return summary


def _as_numpy(buffer: Any) -> np.ndarray:
    if hasattr(buffer, "detach"):  # a torch tensor
        return buffer.detach().cpu().numpy()
    return np.asarray(buffer)
