"""Which model the Segmenter picks, the default session path, and the status traits."""

from __future__ import annotations

import json
import shutil

import pytest

from nni_jupyter import weights
from nni_jupyter.annotation import sessions as models
from nni_jupyter.widget import Segmenter


@pytest.fixture
def no_official_weights(tmp_path, monkeypatch):
    """An environment where no nnInteractive_v1.0 is on the machine."""
    monkeypatch.delenv(models.weights.MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setattr(weights.legacy, "LOCAL_MODEL_DIR", tmp_path / "nni_cache")
    monkeypatch.setenv(weights.STORE_ENV, str(tmp_path / "store"))
    return tmp_path


@pytest.fixture
def official_copy(no_official_weights, model_folder, monkeypatch):
    """A copy of the test model posing as nnInteractive_v1.0 in $NNI_JUPYTER_MODEL_DIR."""
    root = no_official_weights / "models"
    shutil.copytree(model_folder, root / "nnInteractive_v1.0")
    monkeypatch.setenv(models.weights.MODEL_DIR_ENV, str(root))
    return root / "nnInteractive_v1.0"


def test_official_weights_win_when_present(official_copy):
    choice = weights.choose_model()
    assert choice == weights.ModelChoice(official_copy, "nnInteractive_v1.0", is_demo=False)


def test_the_default_cache_folder_counts(no_official_weights, model_folder, monkeypatch):
    cache = no_official_weights / "nni_cache"
    shutil.copytree(model_folder, cache / "nnInteractive_v1.0")
    assert weights.choose_model().path == cache / "nnInteractive_v1.0"


def test_without_official_weights_the_demo_model_is_used(no_official_weights):
    demo = models.weights.resolve_model
    try:
        demo_folder = demo("demo")
    except FileNotFoundError:
        with pytest.raises(FileNotFoundError, match="demo model"):
            weights.choose_model()
        return
    assert weights.choose_model() == weights.ModelChoice(demo_folder, "demo", is_demo=True)


def test_explicit_folders_and_errors(model_folder, tmp_path):
    assert weights.choose_model(model_folder).name == model_folder.name
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        weights.choose_model(tmp_path / "nowhere")


def test_default_session_path_loads_the_model_and_says_so(model_folder, image, capsys):
    seg = Segmenter(image, model=model_folder)
    try:
        printed = capsys.readouterr().out
        assert f"{model_folder.name} model from {model_folder}" in printed
        assert seg.model_info["name"] == model_folder.name
        assert seg.model_info["device"] in ("cpu", "cuda", "mps")
        seg.add_point((20, 18, 16))
        assert seg.prompts and seg.objects[0]["voxels"] == int(seg.mask.sum())
    finally:
        seg.close()


def test_full_model_on_cpu_warns(official_copy, image, monkeypatch):
    monkeypatch.setattr(
        models.weights, "load_session", _cpu_load_session(models.weights.load_session)
    )
    with pytest.warns(UserWarning, match="runs on the CPU"):
        seg = Segmenter(image)
    try:
        assert seg.model_info["name"] == "nnInteractive_v1.0"
        assert "CPU" in seg.model_info["warning"]
    finally:
        seg.close()


def _cpu_load_session(load_session):
    def load(folder, device="auto", **kwargs):
        return load_session(folder, device="cpu", **kwargs)

    return load


def test_tools_and_thickness_come_from_the_model(model_folder, tmp_path, image):
    folder = tmp_path / "no_boxes"
    shutil.copytree(model_folder, folder)
    info = json.loads((folder / "inference_info.json").read_text())
    info["supported_interactions"].update(bbox2d=False, bbox3d=False)
    info["preferred_scribble_thickness"] = 3
    (folder / "inference_info.json").write_text(json.dumps(info))
    seg = Segmenter(image, model=folder, device="cpu")
    try:
        assert seg.supported_tools == ["point", "scribble", "lasso"]
        assert seg.scribble_thickness == [3, 3, 3]
        with pytest.raises(ValueError, match="does not support box"):
            seg.add_box([[1, 5], [1, 5], [3, 4]])
    finally:
        seg.close()


def test_a_session_that_cannot_load_folders_is_not_given_a_model(model_folder):
    class ServedModelOnly:
        """A backend (like the remote session) that serves its own model."""

    with pytest.raises(TypeError, match="cannot load a model folder; pass model=None"):
        models.load_model(ServedModelOnly(), model_folder, None)
