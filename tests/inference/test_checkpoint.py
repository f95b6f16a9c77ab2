"""Model folders: safe class resolution, safe unpickling, metadata, licence, folds, buffers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nni_jupyter.inference import checkpoint, layout, nnInteractiveInferenceSession


@pytest.fixture
def folder_copy(model_folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_folder, tmp_path / "model"))


def _edit_plans(folder: Path, edit) -> None:
    plans = json.loads((folder / "plans.json").read_text())
    edit(next(iter(plans["configurations"].values()))["architecture"])
    (folder / "plans.json").write_text(json.dumps(plans))


def test_loads_network_licence_and_settings(model_folder: Path, capsys) -> None:
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    session.initialize_from_trained_model_folder(model_folder)
    assert session.license == "Test licence"
    assert capsys.readouterr().out.count("Test licence") == 1
    assert session.preferred_scribble_thickness == [2, 2, 2]
    assert session.supported_interactions["bbox3d"] is False
    assert session.interaction_decay == 0.98
    assert session.model.settings.channel_mapping["points"] == (3, 4)


def test_refuses_network_class_outside_dynamic_network_architectures(folder_copy: Path) -> None:
    _edit_plans(folder_copy, lambda arch: arch.update(network_class_name="os.system"))
    with pytest.raises(ValueError, match="dynamic_network_architectures"):
        checkpoint.load_model_folder(folder_copy)


def test_refuses_prefix_spoofing_class(folder_copy: Path) -> None:
    name = "dynamic_network_architectures.architectures.unet.torch.nn.Module"
    _edit_plans(folder_copy, lambda arch: arch.update(network_class_name=name))
    with pytest.raises(ValueError):
        checkpoint.load_model_folder(folder_copy)


def test_refuses_kwarg_class_outside_torch_nn(folder_copy: Path) -> None:
    _edit_plans(folder_copy, lambda arch: arch["arch_kwargs"].update(nonlin="subprocess.Popen"))
    with pytest.raises(ValueError, match="torch.nn"):
        checkpoint.load_model_folder(folder_copy)


class Payload:
    """Anything that is not a tensor or a plain container needs unsafe unpickling."""


def test_refuses_pickle_payload(folder_copy: Path) -> None:
    path = folder_copy / "fold_0" / "checkpoint_final.pth"
    content = torch.load(path, weights_only=True)
    content["trainer"] = Payload()
    torch.save(content, path)
    with pytest.raises(RuntimeError, match="weights_only"):
        checkpoint.load_model_folder(folder_copy)


def test_legacy_metadata_and_missing_licence(folder_copy: Path) -> None:
    (folder_copy / "inference_info.json").unlink()
    (folder_copy / "LICENSE").unlink()
    (folder_copy / "inference_session_class.json").write_text(
        json.dumps("nnInteractiveInferenceSession")
    )
    model = checkpoint.load_model_folder(folder_copy)
    assert model.settings.interaction_decay == 0.9
    assert model.license == "!!MISSING!!"
    (folder_copy / "inference_session_class.json").write_text(
        json.dumps({"preferred_scribble_thickness": 3, "point_radius": 5})
    )
    settings = checkpoint.read_settings(folder_copy)
    assert settings.preferred_scribble_thickness == [3, 3, 3] and settings.point_radius == 5


def test_channel_mapping_and_interaction_channels(folder_copy: Path) -> None:
    info = dict(layout.INFERENCE_INFO_V2)
    info["channel_mapping"] = {"prev_seg": -1, "points": [0, 1]}
    info.pop("interaction_channels")
    (folder_copy / "inference_info.json").write_text(json.dumps(info))
    settings = checkpoint.read_settings(folder_copy)
    assert settings.num_interaction_channels == 7
    assert settings.channel_mapping["prev_seg"] == 6
    assert settings.channel_mapping["points"] == (0, 1)
    info["inference_class_min_version"] = "9.0"
    (folder_copy / "inference_info.json").write_text(json.dumps(info))
    with pytest.raises(RuntimeError, match="9.0"):
        checkpoint.read_settings(folder_copy)


def test_fold_selection(folder_copy: Path) -> None:
    shutil.copytree(folder_copy / "fold_0", folder_copy / "fold_all")
    with pytest.raises(ValueError, match="use_fold"):
        checkpoint.load_model_folder(folder_copy)
    assert checkpoint.load_model_folder(folder_copy, use_fold="all").network is not None
    assert checkpoint.load_model_folder(folder_copy, use_fold=0).network is not None


@pytest.mark.parametrize("kind", ["numpy", "torch", "torch-bool"])
def test_target_buffers_are_written_in_place(session, kind: str) -> None:
    shape = session._image.spatial_shape
    buffer = {
        "numpy": np.zeros(shape, np.uint8),
        "torch": torch.zeros(shape, dtype=torch.uint8),
        "torch-bool": torch.zeros(shape, dtype=torch.bool),
    }[kind]
    session.set_target_buffer(buffer)
    changed = session.add_bbox_interaction([[14, 34], [18, 38], [20, 21]], True)
    assert session.target_buffer is buffer
    (x0, x1), (y0, y1), (z0, z1) = changed
    assert buffer.sum() == buffer[x0:x1, y0:y1, z0:z1].sum() > 0
