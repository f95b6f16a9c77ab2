"""The reference README's Getting Started script, with only the import line changed."""

from __future__ import annotations

import os

import numpy as np
import torch

import nni_jupyter


def test_readme_getting_started_runs(quiet_model_folder, image) -> None:
    model_path = quiet_model_folder
    # --- the script, placeholders filled in; device cpu because CI has no GPU ---
    from nni_jupyter.inference import nnInteractiveInferenceSession

    session = nnInteractiveInferenceSession(
        device=torch.device("cpu"),
        use_torch_compile=False,
        verbose=False,
        torch_n_threads=os.cpu_count(),
        do_autozoom=True,
    )
    session.initialize_from_trained_model_folder(str(model_path))
    img = (image * 10).astype(np.int16)
    if img.ndim != 4:
        raise ValueError("Input image must be 4D with shape (1, x, y, z)")
    session.set_image(img)
    target_tensor = torch.zeros(img.shape[1:], dtype=torch.uint8)
    session.set_target_buffer(target_tensor)
    changed_bbox = session.add_point_interaction((24, 28, 20), include_interaction=True)
    session.add_point_interaction((10, 10, 10), include_interaction=False)
    session.add_bbox_interaction([[14, 34], [18, 38], [20, 21]], include_interaction=True)
    scribble_crop = np.zeros((8, 12, 1), np.uint8)
    scribble_crop[2:6, 3:9, 0] = 1
    interaction_bbox = [[20, 28], [22, 34], [19, 20]]
    session.add_scribble_interaction(
        scribble_crop, include_interaction=True, interaction_bbox=interaction_bbox
    )
    session.add_lasso_interaction(
        scribble_crop, include_interaction=True, interaction_bbox=interaction_bbox
    )
    result_np = target_tensor.cpu().numpy()
    saved = target_tensor.clone()
    assert torch.equal(saved, torch.from_numpy(result_np))
    session.reset_interactions()
    new_image = img[:, :40, :50, :30]
    session.set_image(new_image)
    session.set_target_buffer(torch.zeros(new_image.shape[1:], dtype=torch.uint8))
    # --- end of the script ---
    assert changed_bbox is not None and len(changed_bbox) == 3
    assert result_np.shape == img.shape[1:]
    assert target_tensor.sum() == 0  # reset cleared the old buffer (and its numpy view) in place


def test_package_exports() -> None:
    assert nni_jupyter.InferenceSession is nni_jupyter.nnInteractiveInferenceSession
    assert nni_jupyter.pick_device("auto").type in {"cuda", "mps", "cpu"}
    assert nni_jupyter.pick_device("cpu") == torch.device("cpu")


def test_constructor_accepts_both_storage_spellings() -> None:
    session = nni_jupyter.InferenceSession(
        device="cpu", use_pinned_memory=True, interactions_storage="blosc2", torch_n_threads=1
    )
    assert session.use_pinned_memory is False  # pinned memory only pays off for CUDA
    try:
        nni_jupyter.InferenceSession(device="cpu", interactions_storage="zarr")
    except ValueError as error:
        assert "interactions_storage" in str(error)
    else:
        raise AssertionError("unknown interactions_storage must be refused")
