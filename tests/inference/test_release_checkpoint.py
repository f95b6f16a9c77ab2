"""Checkpoints shaped like the official nnInteractive v1.0 release load safely, and only those.

The fixture (``tests/_release_checkpoint.py``) writes what nnU-Net's trainer saves, cleansed as
nnInteractive's release script does: numpy float64 scalars in ``logging`` and ``_best_ema``, a
``torch.device`` in ``init_args``, in numpy 1.x and numpy 2.x naming. A pickle payload hidden in
such a file is tested with the other hostile model folders (``tests/reliability``).
"""

from __future__ import annotations

import fractions
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from _release_checkpoint import convert_to_release

from nni_jupyter.inference import checkpoint


@pytest.fixture
def folder(model_folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_folder, tmp_path / "model"))


def _checkpoint(folder: Path) -> Path:
    return folder / "fold_0" / "checkpoint_final.pth"


@pytest.mark.parametrize("naming", ["1", "2"])
def test_release_format_loads_with_the_same_weights(folder: Path, naming: str) -> None:
    bare = torch.load(_checkpoint(folder), weights_only=True)["network_weights"]
    convert_to_release(folder, naming)
    module = "numpy.core" if naming == "1" else "numpy._core"
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(_checkpoint(folder))
    assert f"{module}.multiarray.scalar" in unsafe  # the fixture holds what the release holds
    with pytest.raises(pickle.UnpicklingError):  # ... which torch's defaults refuse
        torch.load(_checkpoint(folder), weights_only=True)

    content = checkpoint.load_checkpoint(_checkpoint(folder))
    assert isinstance(content["_best_ema"], np.float64)
    assert all(isinstance(v, np.float64) for v in content["logging"]["mean_fg_dice"])
    assert content["init_args"]["device"] == torch.device("cuda")
    assert "optimizer_state" not in content and "dataset_json" not in content["init_args"]

    model = checkpoint.load_model_folder(folder)
    assert model.trainer_name == "nnInteractiveTrainer_stub"
    loaded = model.network.state_dict()
    assert loaded.keys() == bare.keys()
    assert all(torch.equal(loaded[k], bare[k].float()) for k in bare)


def test_loading_leaves_torchs_allow_list_as_it_was(folder: Path) -> None:
    before = set(torch.serialization.get_safe_globals())
    convert_to_release(folder)
    checkpoint.load_model_folder(folder)
    assert set(torch.serialization.get_safe_globals()) == before


@pytest.mark.parametrize(
    "foreign",
    [
        fractions.Fraction(1, 3),  # a harmless class, but not one a checkpoint needs
        np.array([1, "text"], dtype=object),  # object arrays could carry anything
        np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),  # structured dtype
    ],
    ids=["fraction", "object-array", "structured-array"],
)
def test_foreign_objects_are_refused(folder: Path, foreign) -> None:
    convert_to_release(folder, hide=foreign)
    with pytest.raises(RuntimeError, match="refusing to load"):
        checkpoint.load_model_folder(folder)


def test_numeric_numpy_arrays_are_data(folder: Path) -> None:
    convert_to_release(folder, hide=np.linspace(0, 1, 5))
    content = checkpoint.load_checkpoint(_checkpoint(folder))
    np.testing.assert_array_equal(content["logging"]["notes"][0], np.linspace(0, 1, 5))


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_release_file_is_damaged_or_incomplete(folder: Path, keep: float) -> None:
    convert_to_release(folder)
    data = _checkpoint(folder).read_bytes()
    _checkpoint(folder).write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(RuntimeError, match="damaged or incomplete"):
        checkpoint.load_model_folder(folder)


def test_a_checkpoint_without_weights_or_configuration_says_what_is_missing(folder: Path) -> None:
    torch.save({"state_dict": {}}, _checkpoint(folder))
    with pytest.raises(RuntimeError, match=r"lacks \['network_weights', 'init_args'\]"):
        checkpoint.load_model_folder(folder)
    torch.save({"network_weights": {}, "init_args": {"configuration": 3}}, _checkpoint(folder))
    with pytest.raises(RuntimeError, match="configuration"):
        checkpoint.load_model_folder(folder)
