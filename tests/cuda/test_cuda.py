"""Every prompt kind on a CUDA GPU, against the reference on the same device.

Both sessions run under float16 autocast on CUDA, so masks may differ in a few boundary voxels:
Dice >= 0.98 after each prompt. Skipped, saying why, where no GPU is present (CI has none);
``bash bench/gpu.sh`` runs these on a GPU machine. ``NNI_CUDA_TEST_DEVICE=cpu`` runs the same
checks on the CPU, to try the tests themselves where there is no GPU (``bash bench/gpu.sh
dryrun`` does, in CI, with ``NNI_CUDA_TEST_SMALL=1``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

#: ``NNI_CUDA_TEST_DEVICE=cpu`` dry-runs these tests' logic on a machine without a GPU.
DEVICE = os.environ.get("NNI_CUDA_TEST_DEVICE", "cuda:0")
#: ``NNI_CUDA_TEST_SMALL=1``: the CPU dry run's sizes (see conftest.py)
SMALL = os.environ.get("NNI_CUDA_TEST_SMALL") == "1"
if DEVICE.startswith("cuda") and not torch.cuda.is_available():
    pytest.skip(
        "needs a CUDA GPU (none here); run bash bench/gpu.sh on one", allow_module_level=True
    )
pytest.importorskip(
    "nnInteractive.inference.inference_session",
    reason="needs the parity extra: pip install nninteractive==2.6.0",
)
from _parity_sequence import (  # noqa: E402
    AUTOZOOM_PROMPTS,
    ReferenceSession,
    compare,
    make_session,
    prompts,
    run_both,
)
from _tiny_model import demo_or_tiny_model  # noqa: E402

import nni_jupyter as nj  # noqa: E402
from nni_jupyter.data.phantom import LABEL_VALUES  # noqa: E402
from nni_jupyter.inference import nnInteractiveInferenceSession  # noqa: E402
from nni_jupyter.inference.refine import cover_with_boxes  # noqa: E402

pytestmark = pytest.mark.cuda
MIN_DICE = 0.98


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"))


def _check(results: list[tuple[str, float, float]]) -> None:
    for name, agreement, dice in results:
        print(f"cuda  {name:18s} agreement {agreement:.6f}  dice {dice:.4f}")
    assert all(dice >= MIN_DICE for _, _, dice in results), results


@pytest.mark.parametrize("autozoom", [False, True], ids=["autozoom-off", "autozoom-on"])
def test_parity_sequence_on_cuda(
    tiny_model: Path, demo_model: Path, phantom_image: np.ndarray, autozoom: bool
) -> None:
    """Points, boxes on each axis, scribbles (full and cropped), lassos, a big box, reset, an
    initial segmentation refined as a whole: tiny random model and the demo model."""
    only = AUTOZOOM_PROMPTS if autozoom and SMALL else None  # every step zooms: slow on a CPU
    for folder in (tiny_model, demo_model):
        _check(run_both(folder, phantom_image, autozoom=autozoom, only=only, device=DEVICE))


@pytest.mark.parametrize("autozoom", [False, True], ids=["autozoom-off", "autozoom-on"])
def test_large_object_box_lasso_and_initial_seg_refine_on_cuda(
    demo_model: Path, liver_case: tuple[np.ndarray, np.ndarray], autozoom: bool
) -> None:
    """The prompts that failed on CUDA: a box on the liver, a lasso, an initial segmentation."""
    image, labels = liver_case
    liver = (labels == LABEL_VALUES["liver"]).astype(np.uint8)
    xs, ys, zs = np.nonzero(liver)
    z = int(np.median(zs))
    box = [[int(xs.min()), int(xs.max()) + 1], [int(ys.min()), int(ys.max()) + 1], [z, z + 1]]
    lasso = np.zeros(liver.shape, np.uint8)
    lasso[..., z] = liver[..., z]
    steps = [
        ("liver box", lambda s: s.add_bbox_interaction(box, True)),
        ("undo", lambda s: s.undo()),
        ("liver lasso", lambda s: s.add_lasso_interaction(lasso, True)),
        ("reset", lambda s: s.reset_interactions()),
        ("initial seg", lambda s: s.add_initial_seg_interaction(liver, run_prediction=True)),
    ]
    ours, our_buffer = make_session(nnInteractiveInferenceSession, demo_model, image, autozoom)
    ours_cuda, cuda_buffer = make_session(
        nnInteractiveInferenceSession, demo_model, image, autozoom, DEVICE
    )
    ref, ref_buffer = make_session(ReferenceSession, demo_model, image, autozoom, DEVICE)
    results = []
    for name, step in steps:
        for session in (ours, ours_cuda, ref):
            np.random.seed(0)
            step(session)
        results.append((f"{name} vs reference", *compare(cuda_buffer, ref_buffer)))
        results.append((f"{name} vs our cpu", *compare(cuda_buffer.cpu(), our_buffer)))
    _check(results)
    assert int(cuda_buffer.sum()) > 0


def test_undo_and_redo_on_cuda(tiny_model: Path, phantom_image: np.ndarray) -> None:
    """Undo restores the buffer to the step before, on the GPU; redo brings the step back."""
    session, buffer = make_session(
        nnInteractiveInferenceSession, tiny_model, phantom_image, True, DEVICE
    )
    history = [buffer.clone()]
    for _, prompt in prompts(phantom_image.shape[1:])[:9]:  # up to the big box (refinement)
        prompt(session)
        history.append(buffer.clone())
    for expected in reversed(history[:-1]):
        assert session.undo()
        assert torch.equal(buffer, expected)
    for expected in history[1:]:
        assert session.redo()
        assert torch.equal(buffer, expected)


def test_cover_with_boxes_gives_the_same_boxes_on_cuda() -> None:
    mask = torch.zeros(120, 100, 90, dtype=torch.uint8)
    mask[10:110, 5:95, 20:70] = 1
    on_cpu = cover_with_boxes(mask.clone(), [64, 64, 64], rng=np.random.default_rng(0))
    on_gpu = cover_with_boxes(mask.to(DEVICE), [64, 64, 64], rng=np.random.default_rng(0))
    assert on_gpu == on_cpu and len(on_cpu) > 1


def test_segmenter_python_path_on_cuda(demo_model: Path, segmenter_case: np.ndarray) -> None:
    """The Segmenter on CUDA: the same masks as on the CPU (Dice), undo and redo exact."""
    volume = segmenter_case
    side = volume.shape[0]  # 96, or 64 in the dry run: the prompts scale with it

    def at(fraction: float) -> int:
        return int(round(side * fraction))

    masks = {}
    for device in ("cpu", DEVICE):
        seg = nj.Segmenter(volume, model=demo_model, device=device)
        try:
            seg.add_box([[at(0.1875), at(0.8125)]] * 2 + [[at(0.5), at(0.5) + 1]])
            after_box = seg.mask.copy()
            seg.add_point((at(0.5),) * 3)
            square = [(at(0.25), at(0.25)), (at(0.75), at(0.25)), (at(0.75), at(0.75))]
            square.append((at(0.25), at(0.75)))
            seg.add_lasso(square, axis=2, index=at(0.4375))
            final = seg.mask.copy()
            assert seg.undo() and seg.undo()
            assert np.array_equal(seg.mask, after_box)
            assert seg.redo() and seg.redo()
            assert np.array_equal(seg.mask, final)
            masks[device] = final
        finally:
            seg.close()
    overlap = 2 * (masks["cpu"] & masks[DEVICE]).sum()
    dice = overlap / max(1, masks["cpu"].sum() + masks[DEVICE].sum())
    assert masks["cpu"].any() and dice >= MIN_DICE
