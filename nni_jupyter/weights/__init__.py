"""Find, download and load nnInteractive model folders.

Official weights come from nnInteractive's own model store, shared by every nnInteractive front
end (napari-nninteractive, SlicerNNInteractive, ``nninteractive-server``): the Hugging Face
repository ``MIC-DKFZ/nnInteractive`` (``$NNINTERACTIVE_REPO_ID``), whose manifest
``models.json`` lists the models, downloaded into ``$NNINTERACTIVE_MODEL_DIR`` or
``~/.nninteractive`` as ``models/<id>/`` (:mod:`.store`). A model already there is used with no
network. Downloads need huggingface_hub (extra ``[hub]``); the bundled demo model needs nothing.

:func:`find_model` is the one search (:mod:`.search` gives the order; the places nni_jupyter
used before the store are still searched, :mod:`.legacy`); :func:`choose_model` picks the model a
Segmenter loads; :func:`load_session` loads one.
"""

from __future__ import annotations

from ..bundled import BUNDLED_MODEL_FOLDER, demo_model_path
from . import legacy, store
from .layout import is_model_folder, read_license
from .legacy import LOCAL_MODEL_DIR, MODEL_DIR_ENV, ModelNotFoundError
from .legacy import OLD_REPO_ID as OLD_HUB_REPO_ID
from .legacy import OLD_REVISION as HUB_REVISION
from .provenance import provenance, snapshot_commit
from .search import (
    DEFAULT_MODEL,
    DEMO_MODEL,
    ModelChoice,
    ModelTable,
    check_model_id,
    choose_model,
    default_model_id,
    download_weights,
    find_model,
    is_official_id,
    list_models,
    resolve_model,
)
from .session import DEMO_NOTICE, OFFICIAL_LICENSE, license_notice, load_session
from .store import DEFAULT_REPO_ID as HUB_REPO_ID
from .store import MODEL_PREFIX, STORE_ENV

#: Official models known without the manifest (``list_models()`` reads the current list).
OFFICIAL_MODELS = (DEFAULT_MODEL,)


__all__ = [
    "BUNDLED_MODEL_FOLDER",
    "DEFAULT_MODEL",
    "DEMO_MODEL",
    "DEMO_NOTICE",
    "HUB_REPO_ID",
    "HUB_REVISION",
    "LOCAL_MODEL_DIR",
    "MODEL_DIR_ENV",
    "MODEL_PREFIX",
    "OFFICIAL_LICENSE",
    "OFFICIAL_MODELS",
    "OLD_HUB_REPO_ID",
    "STORE_ENV",
    "ModelChoice",
    "ModelNotFoundError",
    "ModelTable",
    "check_model_id",
    "choose_model",
    "default_model_id",
    "demo_model_path",
    "download_weights",
    "find_model",
    "is_model_folder",
    "is_official_id",
    "legacy",
    "license_notice",
    "list_models",
    "load_session",
    "provenance",
    "read_license",
    "resolve_model",
    "snapshot_commit",
    "store",
]
