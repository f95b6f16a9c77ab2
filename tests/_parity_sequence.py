"""The parity prompt sequence, run through our session and the reference's side by side.

Private test helper (``from _parity_sequence import ...``), shared by the CPU parity tests and
the CUDA tests. Importing it needs the parity extra (``pip install nninteractive==2.6.0``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _prompt_sequence import compare, prompts
from nnInteractive.inference.inference_session import (
    nnInteractiveInferenceSession as ReferenceSession,
)

from nni_jupyter.inference import nnInteractiveInferenceSession

__all__ = ["AUTOZOOM_PROMPTS", "ReferenceSession", "compare", "make_session", "prompts", "run_both"]

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


#: Threads of both sessions' CPU work (the reference's setting too); the GPU script raises it.
THREADS = int(os.environ.get("NNI_TEST_THREADS", "2"))


def parity_precision(device: str) -> str:
    """Our precision that matches the reference's: float32 on CPU, float16 autocast on CUDA."""
    return "fp16" if torch.device(device).type == "cuda" else "fp32"


def make_session(
    cls: type,
    folder: Path,
    image: np.ndarray,
    autozoom: bool,
    device: str = "cpu",
    **options: Any,
) -> tuple:
    """A session of ``cls`` with ``folder`` loaded, ``image`` set and a fresh uint8 target buffer
    on ``device``; ``options`` go to the constructor. Our session runs in the reference's
    precision unless ``precision`` is given (its default, ``"auto"``, may differ)."""
    if cls is nnInteractiveInferenceSession:
        options.setdefault("precision", parity_precision(device))
    session = cls(
        device=torch.device(device),
        use_torch_compile=False,
        verbose=False,
        torch_n_threads=THREADS,
        do_autozoom=autozoom,
        **options,
    )
    session.initialize_from_trained_model_folder(str(folder))
    session.set_image(image)
    buffer = torch.zeros(image.shape[1:], dtype=torch.uint8, device=device)
    session.set_target_buffer(buffer)
    return session, buffer


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
