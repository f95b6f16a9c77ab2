"""The simulated-user protocol of interactive segmentation, for any nnInteractive-style session.

See ``nni_jupyter.evaluation.protocol`` for the protocol and ``nni_jupyter.evaluation.geometry``
for the mask geometry (distance transform, connected components, slices, lassos, scribbles),
``nni_jupyter.evaluation.dataset`` for :func:`run_dataset` over an nnU-Net raw dataset folder.
"""

from __future__ import annotations

from ..inference.api import Session
from .dataset import Dataset, read_dataset, run_dataset
from .geometry import interior_centre
from .protocol import (
    FIRST_PROMPTS,
    MAX_INTERACTIONS,
    NOC_THRESHOLDS,
    ObjectResult,
    box_prompt,
    dice,
    evaluate_object,
    give_first_prompt,
    iter_objects,
    lasso_prompt,
    next_click,
    scribble_prompt,
    summarize,
)

__all__ = [
    "FIRST_PROMPTS",
    "Dataset",
    "MAX_INTERACTIONS",
    "NOC_THRESHOLDS",
    "ObjectResult",
    "Session",
    "box_prompt",
    "dice",
    "evaluate_object",
    "give_first_prompt",
    "interior_centre",
    "iter_objects",
    "lasso_prompt",
    "next_click",
    "read_dataset",
    "run_dataset",
    "scribble_prompt",
    "summarize",
]
