"""nnInteractive's model store, against a local fake hub (no network), with the reference's own
``nnInteractive.model_management`` on the other side: each finds what the other downloaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("huggingface_hub", reason="needs the [hub] extra: pip install nni_jupyter[hub]")

from _fake_hub import COMMIT, FakeHub, serve  # noqa: E402
from _release_checkpoint import convert_to_release  # noqa: E402
from _tiny_model import write_tiny_model  # noqa: E402

import nni_jupyter as nj  # noqa: E402
from nni_jupyter import weights  # noqa: E402
from nni_jupyter.weights import ModelNotFoundError, store  # noqa: E402

ID = "nnInteractive_v1.0"
REPO = "MIC-DKFZ/nnInteractive"
MANIFEST = {
    "schema_version": 1,
    "models": [
        {"id": "nnInteractive_beta", "display_name": "Beta", "path": "nnInteractive_beta_files"},
        {"id": ID, "display_name": "nnInteractive v1.0", "path": ID, "default": True},
        {
            "id": "nnInteractive_other",
            "display_name": "Second default",
            "path": "nnInteractive_o",
            "default": True,
        },
        {"id": "someone_else", "display_name": "no prefix", "path": "someone_else"},
        {"id": "nnInteractive_broken", "display_name": 3, "path": "nnInteractive_broken"},
        "not an entry",
    ],
}


@pytest.fixture(scope="module")
def repo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files: models.json, v1.0 shaped like the release, a beta model."""
    folder = tmp_path_factory.mktemp("repo")
    (folder / "models.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    convert_to_release(write_tiny_model(folder / ID))
    write_tiny_model(folder / "nnInteractive_beta_files", license_text="Beta licence")
    return folder


@pytest.fixture
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty store at $NNINTERACTIVE_MODEL_DIR and no old locations, online."""
    root = tmp_path / "store"
    monkeypatch.setenv(store.STORE_ENV, str(root))
    monkeypatch.delenv(store.REPO_ENV, raising=False)
    monkeypatch.delenv(weights.MODEL_DIR_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(weights.legacy, "LOCAL_MODEL_DIR", tmp_path / "nni_cache")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    return root


def _point_hub_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )


@pytest.fixture
def hub(repo_folder: Path, store_root: Path, monkeypatch: pytest.MonkeyPatch):
    with serve(REPO, repo_folder) as fake:
        _point_hub_at(monkeypatch, fake.endpoint)
        yield fake


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_the_manifest_keeps_valid_entries_and_one_default() -> None:
    entries = store.parse_manifest(MANIFEST)
    assert [(e.id, e.default) for e in entries] == [
        ("nnInteractive_beta", False),
        (ID, True),
        ("nnInteractive_other", False),
    ]
    only = store.parse_manifest({"schema_version": 1, "models": [MANIFEST["models"][0]]})
    assert only[0].default
    for bad in (
        {"models": []},
        {"schema_version": 1, "models": {}},
        {"schema_version": 1, "models": ["x"]},
    ):
        with pytest.raises(store.ManifestError):
            store.parse_manifest(bad)


def test_download_weights_takes_the_manifest_default_into_the_store(
    hub: FakeHub, store_root: Path
) -> None:
    folder = nj.download_weights()
    assert folder == store_root / "models" / ID and weights.is_model_folder(folder)
    assert json.loads((store_root / "models.json").read_text()) == MANIFEST  # cached for offline
    assert {Path(p).parts[1] for p in hub.downloads()} == {"models.json", ID}  # no beta
    requests = len(hub.requests)
    assert nj.download_weights(ID) == folder and len(hub.requests) == requests  # no network
    assert weights.snapshot_commit(folder) == COMMIT


def test_the_reference_finds_what_we_downloaded(hub: FakeHub, store_root: Path) -> None:
    from nnInteractive import model_management as reference

    folder = nj.download_weights(ID)
    assert reference.is_model_downloaded(ID)
    assert reference.get_local_model_dir(ID) == folder
    requests = len(hub.requests)
    assert reference.ensure_model_available(ID) == folder
    assert len(hub.requests) == requests  # the reference downloaded nothing again


def test_we_find_what_the_reference_downloaded_offline(
    hub: FakeHub, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nnInteractive import model_management as reference

    folder = reference.ensure_model_available(ID)
    _offline(monkeypatch)
    requests = len(hub.requests)
    assert weights.find_model(ID) == folder
    assert nj.download_weights() == folder  # the cached manifest's default
    assert weights.choose_model() == weights.ModelChoice(folder, ID, is_demo=False)
    session = nj.load_session(ID, device="cpu", download=False, show_license=None)
    assert session.model.trainer_name == "nnInteractiveTrainer_stub"
    assert len(hub.requests) == requests  # nothing asked of the hub
    checkpoint = folder / "fold_0" / "checkpoint_final.pth"
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    image = np.random.default_rng(1).normal(0.0, 0.1, (24, 24, 16)).astype(np.float32)
    for model in (ID, None):
        with pytest.warns(UserWarning, match="runs on the CPU"):
            seg = nj.Segmenter(image, model=model, device="cpu")
        try:
            info = seg.model_info
            assert (info["name"], info["id"], info["commit"]) == (ID, ID, COMMIT)
            assert info["checkpoint_sha256"] == digest
            seg.add_point((12, 12, 8))
            assert set(np.unique(seg.mask)) <= {0, 1}
            logged = seg.prompt_log()["model"]
            assert (logged["id"], logged["commit"]) == (ID, COMMIT)
            assert logged["checkpoint_sha256"] == digest
        finally:
            seg.close()


def test_list_models_says_what_is_downloaded(
    hub: FakeHub, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = nj.list_models()
    assert [row["id"] for row in table] == ["nnInteractive_beta", ID, "nnInteractive_other"]
    assert [row["default"] for row in table] == [False, True, False]
    assert not any(row["downloaded"] for row in table)
    beta = weights.download_weights("nnInteractive_beta")  # its path differs from its id
    assert beta == store_root / "models" / "nnInteractive_beta"
    _offline(monkeypatch)
    rows = {row["id"]: row for row in nj.list_models()}  # the cached manifest, offline
    assert rows["nnInteractive_beta"]["downloaded"]
    assert rows["nnInteractive_beta"]["local_path"] == str(beta)
    assert rows["nnInteractive_beta"]["license"] == "Beta licence"
    assert rows[ID]["local_path"] is None and rows[ID]["license"] is None
    assert "nnInteractive_beta | Beta | False | True" in str(nj.list_models())


def test_the_repository_can_be_overridden(
    repo_folder: Path, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve("someone/staging", repo_folder) as fake:
        _point_hub_at(monkeypatch, fake.endpoint)
        monkeypatch.setenv(store.REPO_ENV, "someone/staging")
        assert weights.download_weights(ID) == store_root / "models" / ID
        assert fake.downloads()


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "unreachable"])
def test_a_missing_model_offline_names_the_store_folder(
    store_root: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "HF_HUB_OFFLINE":
        _offline(monkeypatch)
    else:
        _point_hub_at(monkeypatch, "http://127.0.0.1:9")  # a closed port
    with pytest.raises(ModelNotFoundError) as caught:
        nj.download_weights()
    message = str(caught.value)
    assert f"{store_root / 'models' / ID}/" in message
    assert "NNINTERACTIVE_MODEL_DIR" in message and "model='demo'" in message
    with pytest.raises(ModelNotFoundError, match="not on this machine"):
        nj.load_session(ID, download=False)
    assert weights.choose_model().is_demo or not weights.is_model_folder(weights.demo_model_path())


def test_model_none_takes_the_cached_default_else_v1(
    store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(monkeypatch)
    manifest = {"schema_version": 1, "models": [MANIFEST["models"][0] | {"default": True}]}
    store_root.mkdir()
    (store_root / "models.json").write_text(json.dumps(manifest), encoding="utf-8")
    v1 = write_tiny_model(store_root / "models" / ID)
    assert weights.choose_model() == weights.ModelChoice(v1, ID, is_demo=False)
    beta = write_tiny_model(store_root / "models" / "nnInteractive_beta")
    assert weights.choose_model() == weights.ModelChoice(beta, "nnInteractive_beta", False)
    assert [row["downloaded"] for row in nj.list_models()] == [True]
