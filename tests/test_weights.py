"""nni_jupyter.weights: the places used before nnInteractive's store (``$NNI_JUPYTER_MODEL_DIR``,
``~/.cache/nni_jupyter``, the old repository in the Hugging Face cache) are still found, and
loading, licences and errors (no network; the store itself: ``test_model_store.py``)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("huggingface_hub", reason="needs the [hub] extra: pip install nni_jupyter[hub]")

from _release_checkpoint import convert_to_release  # noqa: E402
from _tiny_model import write_tiny_model  # noqa: E402

import nni_jupyter.bundled  # noqa: E402
from nni_jupyter import weights  # noqa: E402
from nni_jupyter.weights import (  # noqa: E402
    MODEL_DIR_ENV,
    ModelNotFoundError,
    download_weights,
    find_model,
    is_model_folder,
    license_notice,
    load_session,
)

NAME = "nnInteractive_v1.0"
FAKE_SHA = "0123456789abcdef0123456789abcdef01234567"


def _commit() -> str:
    """The snapshot folder name: the pinned revision when it is a sha, else a fake one."""
    return weights.HUB_REVISION if re.fullmatch(r"[0-9a-f]{40}", weights.HUB_REVISION) else FAKE_SHA


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache under HF_HOME and an empty store, offline, with no
    NNI_JUPYTER_MODEL_DIR."""
    monkeypatch.setenv(weights.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setattr(weights.legacy, "LOCAL_MODEL_DIR", tmp_path / "nni_cache")
    return tmp_path / "hf_home" / "hub"


def _store_as_blobs(snapshot: Path, repo: Path) -> None:
    """Move every file of ``snapshot`` into ``repo/blobs/`` and link it back, as the hub client
    does: the files of a cached model folder are symlinks leading out of it."""
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for file in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        blob = blobs / hashlib.sha256(file.read_bytes()).hexdigest()
        file.replace(blob)
        file.symlink_to(Path(*[".."] * (len(file.relative_to(repo).parts) - 1), "blobs", blob.name))


@pytest.fixture
def fake_hub_cache(offline_env: Path) -> Path:
    """The old repository as snapshot_download cached it: refs/<revision> ->
    snapshots/<sha>/<model>/, whose files link into blobs/; the checkpoint is shaped like the
    official release."""
    repo = offline_env / "models--nnInteractive--nnInteractive"  # the old repository
    commit = _commit()
    convert_to_release(write_tiny_model(repo / "snapshots" / commit / NAME))
    _store_as_blobs(repo / "snapshots" / commit, repo)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    if weights.HUB_REVISION not in ("main", commit):
        (repo / "refs" / weights.HUB_REVISION).write_text(commit)
    return repo / "snapshots" / commit / NAME


def test_find_model_uses_the_hub_cache_offline(fake_hub_cache: Path) -> None:
    assert find_model(NAME) == fake_hub_cache
    assert weights.snapshot_commit(fake_hub_cache) == _commit()  # recorded with the model


def test_download_weights_returns_the_cached_folder_offline(fake_hub_cache: Path) -> None:
    folder = download_weights(NAME)
    assert folder == fake_hub_cache
    assert is_model_folder(folder)


def test_hf_hub_cache_variable_is_honoured(
    fake_hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert find_model(NAME) is None
    monkeypatch.setenv("HF_HUB_CACHE", str(fake_hub_cache.parents[3]))
    assert find_model(NAME) == fake_hub_cache


def test_offline_and_missing_says_where_the_folder_goes(offline_env: Path) -> None:
    assert find_model(NAME) is None
    with pytest.raises(ModelNotFoundError) as caught:
        download_weights(NAME)
    message = str(caught.value)
    store = offline_env.parents[1] / "store"
    assert "HF_HUB_OFFLINE is set" in message
    assert f"at {store / 'models' / NAME}/" in message  # the folder to copy, and where
    assert f"nninteractive-download-model {NAME}" in message
    assert f"--include '{NAME}/*'" in message
    assert "NNINTERACTIVE_MODEL_DIR" in message
    assert "model='demo'" in message


def test_load_session_without_download_fails_clearly(offline_env: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not on this machine"):
        load_session(NAME, download=False)


def test_incomplete_cached_folder_is_not_a_model(fake_hub_cache: Path) -> None:
    (fake_hub_cache / "fold_0" / "checkpoint_final.pth").unlink()
    (fake_hub_cache / "fold_0").rmdir()
    assert find_model(NAME) is None
    with pytest.raises(ModelNotFoundError, match="not on this machine"):
        download_weights(NAME)


def test_env_variable_points_at_the_folder_or_its_parent(
    offline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_tiny_model(tmp_path / "models" / NAME)
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
    assert find_model(NAME) == folder
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder.parent))
    assert find_model(NAME) == folder
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(ModelNotFoundError, match=f"Fix or unset {MODEL_DIR_ENV}"):
        find_model(NAME)


def test_local_dir_is_searched_and_returned_offline(offline_env: Path, tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path / "weights" / NAME)
    assert find_model(NAME, local_dir=tmp_path / "weights") == folder
    assert download_weights(NAME, local_dir=tmp_path / "weights") == folder


def test_the_local_model_dir_serves_every_entry_point(offline_env: Path, tmp_path: Path) -> None:
    assert find_model(NAME) is None
    folder = write_tiny_model(tmp_path / "nni_cache" / NAME)
    assert find_model(NAME) == folder
    assert weights.resolve_model(NAME, download=False) == folder
    assert weights.choose_model() == weights.ModelChoice(folder, NAME, is_demo=False)


def test_unknown_names_and_bad_paths_are_explained(offline_env: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="official model ids start with"):
        find_model("v1.0")
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        load_session(tmp_path)


def test_license_notice_for_official_and_unlicensed_folders(tmp_path: Path) -> None:
    official = write_tiny_model(tmp_path / "a")
    assert "CC BY-NC-SA 4.0" in license_notice(official)
    assert "Non-commercial" in license_notice(official)
    bare = write_tiny_model(tmp_path / "b", license_text=None)
    assert "unknown" in license_notice(bare)


def test_load_session_from_the_hub_cache_shows_the_licence(
    fake_hub_cache: Path, capsys: pytest.CaptureFixture
) -> None:
    shown: list[str] = []
    session = load_session(NAME, device="cpu", show_license=shown.append, torch_n_threads=1)
    assert len(shown) == 1 and "CC BY-NC-SA 4.0" in shown[0]
    assert "Model license" not in capsys.readouterr().out  # the notice, not the session's banner
    image = np.random.default_rng(0).normal(0.0, 0.1, (1, 24, 24, 16)).astype(np.float32)
    image[0, 8:16, 8:16, 4:12] += 1.0
    session.set_image(image)
    target = np.zeros(image.shape[1:], np.uint8)
    session.set_target_buffer(target)
    session.add_point_interaction((12, 12, 8), include_interaction=True)
    assert set(np.unique(target)) <= {0, 1}


@pytest.fixture
def unreachable_hub(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online mode, but the hub endpoint refuses connections (a closed local port)."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    closed = "http://127.0.0.1:9"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", closed)
    template = closed + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(huggingface_hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)


def test_unreachable_hub_without_cache_says_how_to_get_the_folder(unreachable_hub: None) -> None:
    with pytest.raises(ModelNotFoundError, match="ConnectError") as caught:
        download_weights(NAME)
    assert "hf download" in str(caught.value)


def test_unreachable_hub_falls_back_to_the_cache(
    unreachable_hub: None, fake_hub_cache: Path
) -> None:
    assert download_weights(NAME) == fake_hub_cache


def test_demo_model_loads_with_the_demo_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    folder = write_tiny_model(tmp_path / "demo", license_text="Apache-2.0")
    monkeypatch.setattr(nni_jupyter.bundled, "BUNDLED_MODEL_FOLDER", folder)
    shown: list[str] = []
    session = load_session("demo", device="cpu", show_license=shown.append, torch_n_threads=1)
    assert len(shown) == 1 and "small demo model" in shown[0] and "download_weights" in shown[0]
    assert capsys.readouterr().out == ""
    assert session.license == "Apache-2.0"
    monkeypatch.setattr(nni_jupyter.bundled, "BUNDLED_MODEL_FOLDER", tmp_path / "nothing")
    with pytest.raises(ModelNotFoundError, match="demo model is missing"):
        load_session("demo")


def test_release_checkpoint_in_the_hub_cache_loads_through_every_entry_point(
    fake_hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import nni_jupyter as nj

    link = fake_hub_cache / "fold_0" / "checkpoint_final.pth"
    assert link.is_symlink() and "blobs" in os.readlink(link)  # the layout the hub client writes
    folder = download_weights(NAME)
    image = np.random.default_rng(1).normal(0.0, 0.1, (24, 24, 16)).astype(np.float32)
    image[8:16, 8:16, 4:12] += 1.0
    for session in (
        load_session(NAME, device="cpu", show_license=None, torch_n_threads=1),
        load_session(folder, device="cpu", show_license=None, torch_n_threads=1),
    ):
        assert session.model.trainer_name == "nnInteractiveTrainer_stub"
    for model in (folder, None):  # a path, and NNI_JUPYTER_MODEL_DIR found by default
        monkeypatch.setenv(MODEL_DIR_ENV, str(folder.parent))
        with pytest.warns(UserWarning, match="runs on the CPU"):  # the official name, on CPU
            seg = nj.Segmenter(image, model=model, device="cpu")
        try:
            seg.add_point((12, 12, 8))
            assert seg.mask.shape == image.shape and set(np.unique(seg.mask)) <= {0, 1}
            assert seg.model_info["license"] == "CC BY-NC-SA 4.0"
        finally:
            seg.close()


def test_a_hub_cache_link_leading_anywhere_but_its_blobs_is_refused(
    fake_hub_cache: Path, tmp_path: Path
) -> None:
    link = fake_hub_cache / "fold_0" / "checkpoint_final.pth"
    elsewhere = tmp_path / "elsewhere.pth"
    elsewhere.write_bytes(link.read_bytes())  # a loadable file, outside the cache's blob store
    link.unlink()
    link.symlink_to(elsewhere)
    with pytest.raises(ValueError, match="outside the model folder"):
        load_session(NAME, device="cpu", show_license=None)
