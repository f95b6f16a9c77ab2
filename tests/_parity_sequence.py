"""The parity prompt sequence, run through our session and the reference's side by side.

Private test helper (``from _parity_sequence import ...``), shared by the CPU parity tests and
the CUDA tests. Importing it needs the parity extra (``pip install nninteractive==2.6.0``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from nnInteractive.inference.inference_session import (
    nnInteractiveInferenceSession as ReferenceSession,
)

from nni_jupyter.inference import nnInteractiveInferenceSession

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


#: The shorter sequence run with AutoZoom on (every step zooms and refines: slow on CPU).
AUTOZOOM_PROMPTS = (
    "point+",
    "bbox z",
    "scribble+",
    "lasso+",
    "reset",
    "initial seg",
    "point on initial",
)


def make_session(
    cls: type, folder: Path, image: np.ndarray, autozoom: bool, device: str = "cpu"
) -> tuple:
    """A session of ``cls`` with ``folder`` loaded, ``image`` set and a fresh uint8 target buffer
    on ``device``."""
    session = cls(
        device=torch.device(device),
        use_torch_compile=False,
        verbose=False,
        torch_n_threads=2,
        do_autozoom=autozoom,
    )
    session.initialize_from_trained_model_folder(str(folder))
    session.set_image(image)
    buffer = torch.zeros(image.shape[1:], dtype=torch.uint8, device=device)
    session.set_target_buffer(buffer)
    return session, buffer


def compare(ours: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """(voxel agreement, Dice) of two 0/1 buffers; Dice is 1 when both are empty."""
    agreement = (ours == reference).double().mean().item()
    overlap = 2 * (ours.bool() & reference.bool()).sum().item()
    total = ours.sum().item() + reference.sum().item()
    return agreement, 1.0 if total == 0 else overlap / total


def run_both(
    folder: Path,
    image: np.ndarray,
    autozoom: bool,
    only: tuple[str, ...] | None = None,
    device: str = "cpu",
) -> list[tuple[str, float, float]]:
    """Run the prompt sequence through both sessions; return (prompt, agreement, dice) per step."""
    ours, our_buffer = make_session(nnInteractiveInferenceSession, folder, image, autozoom, device)
    ref, ref_buffer = make_session(ReferenceSession, folder, image, autozoom, device)
    results = []
    for name, prompt in prompts(image.shape[1:]):
        if only is not None and name not in only:
            continue
        for session in (ours, ref):
            np.random.seed(0)  # the random fallback of the refinement cover draws from numpy
            prompt(session)
        results.append((name, *compare(our_buffer, ref_buffer)))
        print(
            f"  {name}: foreground voxels ours {int(our_buffer.sum())}, reference "
            f"{int(ref_buffer.sum())}"
        )
    return results
