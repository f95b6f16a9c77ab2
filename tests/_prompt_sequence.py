"""The parity prompt sequence: every prompt kind, in an order that exercises decay, reset and an
initial segmentation, on the phantom of ``tests/_parity_models.py`` (80 x 88 x 72).

Private test helper, free of the reference package: the parity tests run it through both sessions
(``tests/_parity_sequence.py``), the precision tests through ours in two precisions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Prompt = Callable[[object], object]


def prompts(shape: tuple[int, int, int]) -> list[tuple[str, Prompt]]:
    scribble = np.zeros(shape, np.uint8)
    scribble[34:48, 44, 30:33] = 1
    lasso = np.zeros(shape, np.uint8)
    lasso[10:27, 62:79, 34] = 1
    negative_scribble = np.zeros((1, 20, 3), np.uint8)
    negative_scribble[0, 2:18, 1] = 1
    initial = np.zeros(shape, np.uint8)
    initial[50:75, 8:33, 38:60] = 1
    return [
        ("point+", lambda s: s.add_point_interaction((40, 44, 34), include_interaction=True)),
        ("point-", lambda s: s.add_point_interaction((52, 44, 34), include_interaction=False)),
        ("bbox z", lambda s: s.add_bbox_interaction([[26, 54], [30, 58], [34, 35]], True)),
        ("bbox y", lambda s: s.add_bbox_interaction([[26, 54], [44, 45], [20, 50]], True)),
        ("bbox x", lambda s: s.add_bbox_interaction([[40, 41], [28, 60], [18, 52]], True)),
        ("scribble+", lambda s: s.add_scribble_interaction(scribble, True)),
        (
            "scribble- crop",
            lambda s: s.add_scribble_interaction(
                negative_scribble, False, interaction_bbox=[[60, 61], [12, 32], [46, 49]]
            ),
        ),
        ("lasso+", lambda s: s.add_lasso_interaction(lasso, True)),
        ("big bbox", lambda s: s.add_bbox_interaction([[2, 78], [4, 84], [30, 31]], True)),
        ("reset", lambda s: s.reset_interactions()),
        ("point after reset", lambda s: s.add_point_interaction((62, 20, 48), True)),
        ("lasso-", lambda s: s.add_lasso_interaction(lasso, False)),
        ("initial seg", lambda s: s.add_initial_seg_interaction(initial, run_prediction=True)),
        ("point on initial", lambda s: s.add_point_interaction((18, 70, 34), True)),
    ]


def compare(ours: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """(voxel agreement, Dice) of two 0/1 buffers; Dice is 1 when both are empty."""
    agreement = (ours == reference).double().mean().item()
    overlap = 2 * (ours.bool() & reference.bool()).sum().item()
    total = ours.sum().item() + reference.sum().item()
    return agreement, 1.0 if total == 0 else overlap / total
