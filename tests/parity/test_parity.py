"""Our session against the reference nnInteractive 2.6.0, on the same checkpoint and prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "nnInteractive.inference.inference_session",
    reason="needs the parity extra: pip install nninteractive==2.6.0",
)
from _parity_sequence import AUTOZOOM_PROMPTS, run_both  # noqa: E402

pytestmark = pytest.mark.parity


def _demo_model() -> Path:
    """The bundled demo checkpoint: ``nni_jupyter.demo_model_path()`` once it exists."""
    try:
        from nni_jupyter.demo import demo_model_path

        return Path(demo_model_path())
    except (ImportError, AttributeError, FileNotFoundError):
        return Path(__file__).resolve().parents[2] / "nni_jupyter" / "demo" / "model"


DEMO_MODEL = _demo_model()


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
