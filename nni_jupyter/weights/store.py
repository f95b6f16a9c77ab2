"""nnInteractive's model store, shared by every nnInteractive front end.

The same places and rules as the reference's ``nnInteractive.model_management`` (napari, Slicer
and ``nninteractive-server`` go through it), so a model one of them downloaded is ours too:

- the Hugging Face repository :data:`DEFAULT_REPO_ID` (``$NNINTERACTIVE_REPO_ID`` overrides it);
- its manifest ``models.json`` lists the models; it is fetched first and cached at
  ``<store>/models.json``, and the cached copy serves offline;
- the store is ``$NNINTERACTIVE_MODEL_DIR`` or ``~/.nninteractive``; model ``<id>`` lives in
  ``<store>/models/<id>/``, downloaded there with ``snapshot_download(local_dir=...)``.

A model present in the store is used with no network at all. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .hub import hub_module, offline
from .layout import is_model_folder

DEFAULT_REPO_ID = "MIC-DKFZ/nnInteractive"
REPO_ENV = "NNINTERACTIVE_REPO_ID"
STORE_ENV = "NNINTERACTIVE_MODEL_DIR"
MANIFEST = "models.json"
#: Model ids and their paths in the repository start with this.
MODEL_PREFIX = "nnInteractive_"


class ManifestError(ValueError):
    """A ``models.json`` that is not a manifest (see :func:`parse_manifest`)."""


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest."""

    id: str
    display_name: str
    path: str
    default: bool
    license: str | None = None


def repo_id() -> str:
    """The Hugging Face repository of the official models (``$NNINTERACTIVE_REPO_ID``)."""
    return os.environ.get(REPO_ENV) or DEFAULT_REPO_ID


def store_root() -> Path:
    """The store: ``$NNINTERACTIVE_MODEL_DIR`` (resolved, as the reference does), else
    ``~/.nninteractive``; read from the environment on each call."""
    value = os.environ.get(STORE_ENV)
    if value:
        return Path(value).expanduser().resolve()
    return Path.home() / ".nninteractive"


def model_dir(model_id: str, root: Path | None = None) -> Path:
    """``<store>/models/<model_id>``, where the model lives (or would)."""
    return (store_root() if root is None else root) / "models" / model_id


def find_in_store(model_id: str, root: Path | None = None) -> Path | None:
    """The model's folder in the store when it is complete there, else None (no network)."""
    folder = model_dir(model_id, root)
    return folder if is_model_folder(folder) else None


def parse_manifest(raw: Any) -> list[ModelEntry]:
    """The models of a manifest, by the reference's rules.

    ``schema_version`` must be there and ``models`` a list; entries without string ``id``,
    ``display_name`` and ``path``, or whose id or path lacks the ``nnInteractive_`` prefix, or
    repeat an id, are dropped; only the first ``default: true`` counts, and with none the first
    entry is the default.

    Raises
    ------
    ManifestError
        When the manifest is malformed or lists no valid model.
    """
    if not isinstance(raw, dict) or "schema_version" not in raw:
        raise ManifestError("models.json: expected an object with 'schema_version' and 'models'")
    if not isinstance(raw.get("models"), list):
        raise ManifestError("models.json: 'models' must be a list")
    entries: list[ModelEntry] = []
    for item in raw["models"]:
        if not isinstance(item, dict):
            continue
        model_id, display_name, path = (item.get(k) for k in ("id", "display_name", "path"))
        if not (
            isinstance(model_id, str) and isinstance(display_name, str) and isinstance(path, str)
        ):
            continue
        if not (model_id.startswith(MODEL_PREFIX) and path.startswith(MODEL_PREFIX)):
            continue
        if any(entry.id == model_id for entry in entries):
            continue
        default = bool(item.get("default")) and not any(entry.default for entry in entries)
        licence = item.get("license")
        entries.append(
            ModelEntry(
                model_id, display_name, path, default, licence if isinstance(licence, str) else None
            )
        )
    if not entries:
        raise ManifestError("models.json lists no valid model entry")
    if not any(entry.default for entry in entries):
        first = entries[0]
        entries[0] = ModelEntry(first.id, first.display_name, first.path, True, first.license)
    return entries


def cached_manifest(root: Path | None = None) -> list[ModelEntry] | None:
    """The manifest cached in the store, or None when there is none or it is unreadable."""
    path = (store_root() if root is None else root) / MANIFEST
    try:
        return parse_manifest(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def fetch_manifest(root: Path | None = None) -> list[ModelEntry]:
    """The manifest from the repository, cached in the store; raises at once when the hub
    cannot be reached (one request with no retries first: huggingface_hub retries a missing
    file for about 20 s)."""
    root = store_root() if root is None else root
    hub = hub_module()
    hub.get_hf_file_metadata(hub.hf_hub_url(repo_id(), MANIFEST), timeout=5)
    fetched = hub.hf_hub_download(
        repo_id=repo_id(), filename=MANIFEST, cache_dir=str(root / "downloads")
    )
    raw = json.loads(Path(fetched).read_text(encoding="utf-8"))
    entries = parse_manifest(raw)
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return entries


def load_manifest(root: Path | None = None) -> list[ModelEntry]:
    """The manifest: fetched from the repository and cached in the store, else the cached copy.

    Raises
    ------
    ManifestError
        When neither the repository nor the store gives a usable manifest.
    """
    root = store_root() if root is None else root
    error: Exception | None = None
    if not offline():
        try:
            return fetch_manifest(root)
        except Exception as caught:  # offline, unreachable or a bad manifest: the cache decides
            error = caught
    cached = cached_manifest(root)
    if cached is not None:
        return cached
    why = "offline (HF_HUB_OFFLINE)" if error is None else f"{type(error).__name__}: {error}"
    raise ManifestError(
        f"no model list: {repo_id()}/{MANIFEST} could not be read ({why}) and the store "
        f"{root} holds no cached {MANIFEST}"
    )


def download_to_store(
    entry: ModelEntry, root: Path | None = None, revision: str | None = None
) -> Path:
    """Download ``entry``'s folder into ``<store>/models/<id>/`` (only that folder's files;
    files already there are not fetched again) and return the folder.

    Raises
    ------
    FileNotFoundError
        When the repository gave no complete model folder.
    """
    root = store_root() if root is None else root
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    remote = entry.path.strip("/")
    hub_module().snapshot_download(
        repo_id=repo_id(),
        revision=revision,
        allow_patterns=[f"{remote}/*", f"{remote}/**"],
        local_dir=str(models),
    )
    target = models / entry.id
    landed = models / remote
    if landed != target and is_model_folder(landed):  # the manifest's path differs from its id
        if target.exists():
            shutil.rmtree(target)
        landed.rename(target)
    if not is_model_folder(target):
        raise FileNotFoundError(
            f"{repo_id()} gave no complete {remote}/ folder (expected plans.json and fold_0/) "
            f"at {target}"
        )
    return target
