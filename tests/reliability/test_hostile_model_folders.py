"""Hostile model folders: pickle payloads, foreign classes, paths out of the folder, cut-off files.

Already covered in ``tests/inference/test_checkpoint.py`` and not repeated here: a network class
outside dynamic_network_architectures (``os.system``), a prefix-spoofing class name, a kwarg class
outside torch.nn, and an unknown object in the checkpoint refused with ``weights_only``. These tests
add the proof that a payload never runs, and the path and truncation cases.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from _release_checkpoint import convert_to_release

from nni_jupyter.inference import checkpoint, nnInteractiveInferenceSession

ENV_FLAG = "NNI_RELIABILITY_PAYLOAD_RAN"


@pytest.fixture
def folder(model_folder: Path, tmp_path: Path) -> Path:
    """A private copy of the test model folder."""
    return Path(shutil.copytree(model_folder, tmp_path / "model"))


def _checkpoint(folder: Path) -> Path:
    return next(folder.glob("fold_*")) / "checkpoint_final.pth"


class _Payload:
    """Unpickling this runs code: it creates a file and sets an environment variable."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        code = f"open({str(self.marker)!r}, 'w').close(); import os; os.environ[{ENV_FLAG!r}] = '1'"
        return (exec, (code,))


@pytest.mark.parametrize("shape", ["bare", "release-numpy1", "release-numpy2"])
def test_pickle_payload_is_refused_and_never_runs(
    folder: Path, tmp_path: Path, monkeypatch, shape: str
):
    """In a bare state-dict checkpoint, and hidden in ``logging`` of one shaped like the official
    release (numpy 1.x and 2.x names)."""
    monkeypatch.delenv(ENV_FLAG, raising=False)
    marker = tmp_path / "payload_ran"
    if shape == "bare":
        path = _checkpoint(folder)
        content = torch.load(path, weights_only=True)
        content["trainer"] = _Payload(marker)
        torch.save(content, path)
    else:
        convert_to_release(folder, shape[-1], hide=_Payload(marker))
    for load in (
        lambda: checkpoint.load_model_folder(folder),
        lambda: nnInteractiveInferenceSession(device="cpu").initialize_from_trained_model_folder(
            str(folder)
        ),
    ):
        with pytest.raises(RuntimeError, match="refusing to load"):
            load()
    assert not marker.exists() and ENV_FLAG not in os.environ


@pytest.mark.parametrize(
    "name",
    ["builtins.eval", "subprocess.Popen", "torch.nn.Module", "dynamic_network_architectures.os"],
)
def test_plans_naming_a_foreign_class_is_refused(folder: Path, name: str) -> None:
    plans = json.loads((folder / "plans.json").read_text())
    for entry in plans["configurations"].values():
        if "architecture" in entry:
            entry["architecture"]["network_class_name"] = name
    (folder / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ValueError, match="refusing|dynamic_network_architectures"):
        checkpoint.load_model_folder(folder)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"use_fold": "../.."},
        {"use_fold": "0/../../x"},
        {"use_fold": -1},
        {"checkpoint_name": "../../x.pth"},
        {"checkpoint_name": "/etc/passwd"},
    ],
)
def test_paths_escaping_the_model_folder_are_refused(folder: Path, tmp_path: Path, kwargs):
    outside = tmp_path / "x.pth"
    shutil.copy(_checkpoint(folder), outside)  # a loadable file waits outside the folder
    with pytest.raises(ValueError, match="use_fold|outside the model folder"):
        checkpoint.load_model_folder(folder, **kwargs)


def test_a_symlinked_fold_pointing_outside_is_refused(folder: Path, tmp_path: Path) -> None:
    fold = next(folder.glob("fold_*"))
    elsewhere = Path(shutil.move(fold, tmp_path / "elsewhere"))
    fold.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the model folder"):
        checkpoint.load_model_folder(folder)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_a_truncated_checkpoint_gives_a_clear_error(folder: Path, keep: float) -> None:
    path = _checkpoint(folder)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(RuntimeError, match="damaged or incomplete"):
        checkpoint.load_model_folder(folder)
