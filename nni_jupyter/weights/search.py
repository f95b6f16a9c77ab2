"""The one search for weights: which model folder a name, a path or nothing stands for.

:func:`find_model` looks, never using the network, in order in

1. ``$NNI_JUPYTER_MODEL_DIR``: the model folder itself, or a folder holding ``<id>/``;
2. nnInteractive's store: ``<store>/models/<id>/`` (:mod:`.store`);
3. ``local_dir/<id>``, by default ``~/.cache/nni_jupyter/<id>`` (where nni_jupyter downloaded
   before);
4. the old repository ``nnInteractive/nnInteractive`` in the Hugging Face cache.

:func:`download_weights` downloads into the store only what none of them holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import bundled
from . import legacy, store
from .hub import hub_module, offline
from .layout import is_model_folder, read_license
from .legacy import ModelNotFoundError

#: The model ``load_session()`` loads and ``model=None`` prefers while no manifest is cached.
DEFAULT_MODEL = "nnInteractive_v1.0"
DEMO_MODEL = "demo"


def check_model_id(model_id: str) -> None:
    """Refuse a name that cannot be an official model id (they start with ``nnInteractive_``)."""
    if not (isinstance(model_id, str) and model_id.startswith(store.MODEL_PREFIX)):
        raise ValueError(
            f"unknown model {model_id!r}: official model ids start with {store.MODEL_PREFIX!r} "
            "(nni_jupyter.list_models() lists them). For your own folder, pass its path to "
            "load_session(model=path)"
        )


def how_to_get(model_id: str) -> str:
    """Where the folder goes and the ways to get it there, for error messages."""
    root = store.store_root()
    target = store.model_dir(model_id, root)
    return (
        f"Put the folder {model_id}/ (plans.json, fold_0/checkpoint_final.pth, ...) at {target}/ "
        f"(nnInteractive's model store, {store.STORE_ENV} or ~/.nninteractive, shared with "
        "napari-nninteractive, SlicerNNInteractive and nninteractive-server), one of these ways:\n"
        f"  * online: nni_jupyter.download_weights({model_id!r}) (about 400 MB); unset "
        "HF_HUB_OFFLINE first if it is set;\n"
        f"  * on a machine with internet: nninteractive-download-model {model_id} --model-dir "
        f"<dir> (or hf download {store.repo_id()} --include '{model_id}/*' --local-dir "
        f"<dir>/models), then copy <dir>/models/{model_id}/ to {target}/, or set "
        f"{store.STORE_ENV}=<dir> (a read-only copy is fine);\n"
        "  * or use the bundled demo model: load_session(model='demo')."
    )


def find_model(
    name: str = DEFAULT_MODEL,
    local_dir: str | Path | None = None,
    revision: str = legacy.OLD_REVISION,
) -> Path | None:
    """Return the local folder of an official model, or None; never uses the network.

    Parameters
    ----------
    name
        Official model id, e.g. ``"nnInteractive_v1.0"``.
    local_dir
        A folder passed to ``download_weights(local_dir=...)`` before; ``local_dir/<name>`` is
        checked. Default ``~/.cache/nni_jupyter``.
    revision
        Revision of the old hub repository whose cached snapshot counts.

    Returns
    -------
    Path or None
        The model folder (holding ``plans.json`` and ``fold_*``), or None when it is not present.
    """
    check_model_id(name)
    return (
        legacy.from_env(name)
        or store.find_in_store(name)
        or legacy.from_local_dir(name, local_dir)
        or legacy.from_old_hub_cache(name, revision)
    )


def default_model_id(online: bool = False) -> str:
    """The manifest's default model: fetched when ``online``, else from the store's cached
    manifest; :data:`DEFAULT_MODEL` when there is none."""
    try:
        entries = store.load_manifest() if online else store.cached_manifest()
    except store.ManifestError:
        entries = None
    for entry in entries or []:
        if entry.default:
            return entry.id
    return DEFAULT_MODEL


def download_weights(
    name: str | None = None,
    local_dir: str | Path | None = None,
    revision: str | None = None,
) -> Path:
    """Download an official model into nnInteractive's store (or find it where it already is).

    A model already on this machine (see :func:`find_model`) is returned with no network. Else
    the manifest is read and only that model's folder is fetched, with huggingface_hub's
    progress bar, into ``<store>/models/<id>/``, where every nnInteractive front end finds it.

    Parameters
    ----------
    name
        Model id, e.g. ``"nnInteractive_v1.0"``; default the manifest's default model.
    local_dir
        Download into ``local_dir/<name>/`` instead of the store (as nni_jupyter did before).
    revision
        Hub revision (branch, tag or commit); default the repository's main branch.

    Returns
    -------
    Path
        The model folder.

    Raises
    ------
    ModelNotFoundError
        Offline (``HF_HUB_OFFLINE=1``, no network) and not on this machine, or the repository
        lacks the model; the message names the folder to put in place and how.
    """
    name = default_model_id(online=not offline()) if name is None else name
    check_model_id(name)
    found = find_model(name) if local_dir is None else legacy.from_local_dir(name, local_dir)
    if found is not None:
        return found
    if offline():
        raise ModelNotFoundError(
            f"{name} is not on this machine and HF_HUB_OFFLINE is set.\n{how_to_get(name)}"
        )
    try:
        entry = _manifest_entry(name)
        if local_dir is None:
            return store.download_to_store(entry, revision=revision)
        return _download_to_folder(entry, Path(local_dir).expanduser(), revision)
    except Exception as error:
        raise ModelNotFoundError(
            f"could not download {name} from {store.repo_id()}: {type(error).__name__}: "
            f"{error}\n{how_to_get(name)}"
        ) from error


def _manifest_entry(name: str) -> store.ModelEntry:
    entries = store.fetch_manifest()  # a download needs the hub: fail at once without it
    for entry in entries:
        if entry.id == name:
            return entry
    raise ValueError(
        f"{store.repo_id()}'s manifest has no model {name!r}; it lists {[e.id for e in entries]}"
    )


def _download_to_folder(entry: store.ModelEntry, local_dir: Path, revision: str | None) -> Path:
    """``entry`` into ``local_dir/<path>/`` (then renamed to ``<id>``), the pre-store layout."""
    remote = entry.path.strip("/")
    hub_module().snapshot_download(
        repo_id=store.repo_id(),
        revision=revision,
        allow_patterns=[f"{remote}/*", f"{remote}/**"],
        local_dir=str(local_dir),
    )
    if remote != entry.id and is_model_folder(local_dir / remote):
        (local_dir / remote).rename(local_dir / entry.id)
    folder = local_dir / entry.id
    if not is_model_folder(folder):
        raise FileNotFoundError(f"no complete {entry.id}/ folder at {folder}")
    return folder


@dataclass(frozen=True)
class ModelChoice:
    """A model folder and the name to show for it."""

    path: Path
    name: str
    is_demo: bool


def choose_model(model: str | os.PathLike[str] | None = None, download: bool = True) -> ModelChoice:
    """Return the model to load: the one asked for, else the best one on this machine.

    Parameters
    ----------
    model
        None: the default model (the store's cached manifest says which; else, or when that
        one is not here, ``nnInteractive_v1.0``) when :func:`find_model` finds it (never
        downloading), else the bundled demo model. ``"demo"``, a model id or a model folder:
        that model.
    download
        Allow downloading an official model that is asked for by id and not on this machine.

    Raises
    ------
    ModelNotFoundError
        When the requested model cannot be found or downloaded (the message says how to get it).
    """
    if model is None:
        # the manifest's default; nnInteractive_v1.0 too, should a newer default not be here
        for default in dict.fromkeys([default_model_id(), DEFAULT_MODEL]):
            found = find_model(default)
            if found is not None:
                return ModelChoice(found, default, is_demo=False)
        model = DEMO_MODEL
    folder = resolve_model(model, download=download)
    if model == DEMO_MODEL:
        return ModelChoice(folder, DEMO_MODEL, is_demo=True)
    name = model if is_official_id(model) else folder.name
    return ModelChoice(folder, str(name), is_demo=False)


def is_official_id(model: object) -> bool:
    """True when ``model`` is an official model id (``nnInteractive_...``), not a path or demo."""
    return isinstance(model, str) and model.startswith(store.MODEL_PREFIX) and "/" not in model


def resolve_model(model: str | os.PathLike[str] = DEFAULT_MODEL, download: bool = True) -> Path:
    """Turn ``"demo"``, a model id or a path into a model folder (downloading if allowed)."""
    if isinstance(model, str) and model == DEMO_MODEL:
        folder = bundled.demo_model_path()
        if not is_model_folder(folder):
            raise ModelNotFoundError(
                f"the bundled demo model is missing from this install ({folder}); reinstall "
                "nni_jupyter, or in a source checkout train it (python -m nni_jupyter.demo.train)"
            )
        return folder
    if is_official_id(model):
        name = str(model)
        found = find_model(name)
        if found is not None:
            return found
        if not download:
            raise ModelNotFoundError(f"{name} is not on this machine.\n{how_to_get(name)}")
        return download_weights(name)
    folder = Path(model).expanduser()
    if not is_model_folder(folder):
        raise ModelNotFoundError(
            f"{folder} is not a model folder (expected plans.json and a fold_*/ folder with "
            f"checkpoint_final.pth). Use 'demo', a model id such as {DEFAULT_MODEL!r} "
            "(nni_jupyter.list_models()), or such a folder"
        )
    return folder


class ModelTable(list[dict[str, object]]):
    """The rows :func:`list_models` returns; shown as a table in a notebook."""

    COLUMNS = ("id", "display_name", "default", "downloaded", "local_path", "license")

    def __str__(self) -> str:
        lines = [" | ".join(self.COLUMNS)]
        lines += [" | ".join(str(row.get(c, "")) for c in self.COLUMNS) for row in self]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(row.get(c, '')))}</td>" for c in self.COLUMNS)
            for row in self
        )
        return f"<table><tr>{head}</tr>{body}</table>"


def list_models() -> ModelTable:
    """The official models: id, display name, default, downloaded, local path, licence.

    The manifest is fetched from the repository (cached in the store; the cached copy serves
    offline). Without any manifest, the models already in the store are listed.

    Returns
    -------
    ModelTable
        A list of dicts with keys ``id``, ``display_name``, ``default``, ``downloaded``,
        ``local_path`` (str or None) and ``license`` (None where unknown).
    """
    try:
        entries = store.load_manifest()
    except store.ManifestError:
        entries = _store_entries()
    table = ModelTable()
    for entry in entries:
        folder = find_model(entry.id)
        licence = entry.license or (read_license(folder) if folder is not None else None)
        table.append(
            {
                "id": entry.id,
                "display_name": entry.display_name,
                "default": entry.default,
                "downloaded": folder is not None,
                "local_path": None if folder is None else str(folder),
                "license": licence,
            }
        )
    return table


def _store_entries() -> list[store.ModelEntry]:
    """Entries for the model folders present in the store, when no manifest can be read."""
    models = store.store_root() / "models"
    ids = sorted(p.name for p in models.glob(f"{store.MODEL_PREFIX}*") if is_model_folder(p))
    if DEFAULT_MODEL not in ids and find_model(DEFAULT_MODEL) is not None:
        ids.insert(0, DEFAULT_MODEL)
    return [store.ModelEntry(i, i, i, i == DEFAULT_MODEL, None) for i in ids]
