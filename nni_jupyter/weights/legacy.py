"""The places nni_jupyter took weights from before nnInteractive's store, still searched so
that nobody downloads again: ``$NNI_JUPYTER_MODEL_DIR``, ``~/.cache/nni_jupyter/<name>`` and the
old repository ``nnInteractive/nnInteractive`` in the Hugging Face cache. Nothing is written
there any more."""

from __future__ import annotations

import os
from pathlib import Path

from .hub import hub_cache_dir, hub_module
from .layout import is_model_folder

#: Environment variable naming a model folder (or a folder of model folders).
MODEL_DIR_ENV = "NNI_JUPYTER_MODEL_DIR"
#: Folder of model folders that ``download_weights(local_dir=...)`` wrote by default.
LOCAL_MODEL_DIR = Path("~/.cache/nni_jupyter")
#: The Hugging Face repository nni_jupyter downloaded from before nnInteractive 2.6.
OLD_REPO_ID = "nnInteractive/nnInteractive"
OLD_REVISION = "main"


class ModelNotFoundError(FileNotFoundError):
    """A model folder could not be found locally nor downloaded."""


def from_env(name: str) -> Path | None:
    """``$NNI_JUPYTER_MODEL_DIR`` when it is the model folder or holds ``<name>/``.

    Raises
    ------
    ModelNotFoundError
        When the variable is set but names neither.
    """
    value = os.environ.get(MODEL_DIR_ENV)
    if not value:
        return None
    root = Path(value).expanduser()
    for candidate in (root / name, root):
        if is_model_folder(candidate):
            return candidate
    raise ModelNotFoundError(
        f"{MODEL_DIR_ENV}={value} is neither the {name} model folder nor a folder holding "
        f"{name}/ (expected plans.json and fold_0/). Fix or unset {MODEL_DIR_ENV}."
    )


def from_local_dir(name: str, local_dir: str | Path | None) -> Path | None:
    """``local_dir/<name>`` (default ``~/.cache/nni_jupyter/<name>``) when it is a model folder."""
    folder = Path(LOCAL_MODEL_DIR if local_dir is None else local_dir).expanduser() / name
    return folder if is_model_folder(folder) else None


def from_old_hub_cache(name: str, revision: str = OLD_REVISION) -> Path | None:
    """The old repository's ``<name>/`` in the Hugging Face cache (never the network)."""
    try:
        hub = hub_module()
    except ImportError:  # no hub client: no hub cache to look in
        return None
    cache_dir = hub_cache_dir()
    # a cheap probe first: is plans.json of this revision in the cache at all?
    probe = hub.try_to_load_from_cache(
        OLD_REPO_ID, f"{name}/plans.json", cache_dir=cache_dir, revision=revision
    )
    if not isinstance(probe, str):
        return None
    try:
        snapshot = hub.snapshot_download(
            OLD_REPO_ID,
            revision=revision,
            allow_patterns=[f"{name}/*"],
            cache_dir=cache_dir,
            local_files_only=True,
        )
    except Exception:  # incomplete or missing snapshot: treated as not found
        return None
    folder = Path(snapshot) / name
    return folder if is_model_folder(folder) else None
