"""Our session against the reference nnInteractive 2.6.0, on the same checkpoint and prompts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip(
    "nnInteractive.inference.inference_session",
    reason="needs the parity extra: pip install nninteractive==2.6.0",
)
from nnInteractive.inference.inference_session import (  # noqa: E402
    nnInteractiveInferenceSession as ReferenceSession,
)

from nni_jupyter.inference import nnInteractiveInferenceSession  # noqa: E402

pytestmark = pytest.mark.parity


def _demo_model() -> Path:
    """The bundled demo checkpoint: ``nni_jupyter.demo_model_path()`` once it exists."""
    try:
        from nni_jupyter.demo import demo_model_path

        return Path(demo_model_path())
    except (ImportError, AttributeError, FileNotFoundError):
        return Path(__file__).resolve().parents[2] / "nni_jupyter" / "demo" / "model"


DEMO_MODEL = _demo_model()

Prompt = Callable[[object], object]


def _prompts(shape: tuple[int, int, int]) -> list[tuple[str, Prompt]]:
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


def _session(cls: type, folder: Path, image: np.ndarray, autozoom: bool):
    session = cls(
        device=torch.device("cpu"),
        use_torch_compile=False,
        verbose=False,
        torch_n_threads=2,
        do_autozoom=autozoom,
    )
    session.initialize_from_trained_model_folder(str(folder))
    session.set_image(image)
    buffer = torch.zeros(image.shape[1:], dtype=torch.uint8)
    session.set_target_buffer(buffer)
    return session, buffer


def run_both(
    folder: Path, image: np.ndarray, autozoom: bool, only: tuple[str, ...] | None = None
) -> list[tuple[str, float, float]]:
    """Run the prompt sequence through both sessions; return (prompt, agreement, dice) per step."""
    ours, our_buffer = _session(nnInteractiveInferenceSession, folder, image, autozoom)
    ref, ref_buffer = _session(ReferenceSession, folder, image, autozoom)
    results = []
    for name, prompt in _prompts(image.shape[1:]):
        if only is not None and name not in only:
            continue
        for session in (ours, ref):
            np.random.seed(0)  # the random fallback of the refinement cover draws from numpy
            prompt(session)
        agreement = (our_buffer == ref_buffer).double().mean().item()
        overlap = 2 * (our_buffer.bool() & ref_buffer.bool()).sum().item()
        total = our_buffer.sum().item() + ref_buffer.sum().item()
        results.append((name, agreement, 1.0 if total == 0 else overlap / total))
        print(
            f"  {name}: foreground voxels ours {int(our_buffer.sum())}, reference "
            f"{int(ref_buffer.sum())}"
        )
    return results


def test_state_dict_matches_reference(tiny_model: Path) -> None:
    import json

    from nnInteractive.trainer.nnInteractiveTrainer import nnInteractiveTrainer_stub
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from nni_jupyter.inference.checkpoint import build_network, configuration_entry

    plans = json.loads((tiny_model / "plans.json").read_text())
    name = next(iter(plans["configurations"]))
    reference = nnInteractiveTrainer_stub.build_network_architecture(
        PlansManager(plans), PlansManager(plans).get_configuration(name), 8, 2, False
    )
    ours = build_network(configuration_entry(plans, name)["architecture"], 8)
    ref_shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    our_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert our_shapes == ref_shapes


def test_parity_autozoom_off(tiny_model: Path, phantom_image: np.ndarray) -> None:
    results = run_both(tiny_model, phantom_image, autozoom=False)
    for name, agreement, dice in results:
        print(f"autozoom off  {name:18s} agreement {agreement:.6f}  dice {dice:.4f}")
    assert all(agreement >= 0.999 for _, agreement, _ in results), results


def test_parity_autozoom_on(tiny_model: Path, phantom_image: np.ndarray) -> None:
    results = run_both(tiny_model, phantom_image, autozoom=True, only=AUTOZOOM_PROMPTS)
    for name, agreement, dice in results:
        print(f"autozoom on   {name:18s} agreement {agreement:.6f}  dice {dice:.4f}")
    assert all(agreement >= 0.99 for _, agreement, _ in results), results


@pytest.mark.skipif(
    not (DEMO_MODEL / "fold_0").is_dir(), reason="the demo checkpoint is not trained yet"
)
def test_parity_demo_model_autozoom_on(phantom_image: np.ndarray) -> None:
    results = run_both(DEMO_MODEL, phantom_image, autozoom=True, only=AUTOZOOM_PROMPTS)
    for name, agreement, dice in results:
        print(f"demo model    {name:18s} agreement {agreement:.6f}  dice {dice:.4f}")
    assert all(dice >= 0.98 for _, _, dice in results), results
