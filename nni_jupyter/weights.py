"""Find, download and load nnInteractive model folders.

Official weights come from the Hugging Face repository ``nnInteractive/nnInteractive`` at a pinned
revision, through huggingface_hub (extra ``[hub]``): its cache, its progress bar, ``HF_HUB_OFFLINE``
and ``HF_HOME``/``HF_HUB_CACHE`` all work as usual. The bundled demo model needs nothing.

This module is the one search for weights. :func:`choose_model` takes a model that is asked
for by name or path as it is; with none asked for, :func:`find_model` looks, in order, in

1. ``$NNI_JUPYTER_MODEL_DIR``: the model folder itself, or a folder holding ``<name>/``;
2. ``local_dir/<name>``, by default :data:`LOCAL_MODEL_DIR` (``~/.cache/nni_jupyter``; what
   ``download_weights(local_dir=...)`` writes);
3. the Hugging Face cache, at the pinned revision (no network);

and when none holds ``nnInteractive_v1.0``, :func:`choose_model` falls back to the bundled demo
model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nni_jupyter.inference import nnInteractiveInferenceSession

#: Hugging Face repository holding the official checkpoints.
HUB_REPO_ID = "nnInteractive/nnInteractive"
#: Revision of HUB_REPO_ID that downloads and cache look-ups use. It must be the commit sha of the
#: published nnInteractive_v1.0 files (a branch name would follow later pushes); "main" stands in
#: until that sha is read from the hub (``HfApi().model_info(HUB_REPO_ID).sha``).
HUB_REVISION = "main"
#: Official model folders in HUB_REPO_ID.
OFFICIAL_MODELS = ("nnInteractive_v1.0",)
DEFAULT_MODEL = "nnInteractive_v1.0"
DEMO_MODEL = "demo"
#: What users are told when the bundled demo model serves them (load message and status line).
DEMO_NOTICE = (
    "small demo model (1.6 M parameters, trained on synthetic volumes only): fine for trying the "
    "tools, not for real work. For real images get nnInteractive v1.0: "
    'nj.download_weights("nnInteractive_v1.0") (about 400 MB, needs pip install '
    "'nni_jupyter[hub]')."
)
#: Environment variable naming a model folder (or a folder of model folders).
MODEL_DIR_ENV = "NNI_JUPYTER_MODEL_DIR"
#: Folder of model folders that find_model checks after MODEL_DIR_ENV, before the hub cache.
LOCAL_MODEL_DIR = Path("~/.cache/nni_jupyter")
#: Licence of the official weights (the code is Apache-2.0).
OFFICIAL_LICENSE = "CC BY-NC-SA 4.0"
_LICENSE_URL = "https://creativecommons.org/licenses/by-nc-sa/4.0/"


class ModelNotFoundError(FileNotFoundError):
    """A model folder could not be found locally nor downloaded."""


def is_model_folder(folder: str | Path) -> bool:
    """True when ``folder`` has the trained-model layout: ``plans.json`` and a ``fold_*`` folder."""
    folder = Path(folder)
    return (folder / "plans.json").is_file() and any(
        child.is_dir() and child.name.startswith("fold_") for child in folder.glob("fold_*")
    )


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as error:
        raise ImportError(
            "downloading nnInteractive weights needs huggingface_hub; "
            "install it with: pip install nni_jupyter[hub]"
        ) from error
    return huggingface_hub


def _hub_cache_dir() -> Path:
    """The hub cache folder, read from the environment now (not at import time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    _hub()  # a clear ImportError when the [hub] extra is missing
    from huggingface_hub import constants  # not an attribute of the package until imported

    return Path(constants.HF_HUB_CACHE)


def _offline() -> bool:
    """Offline per the environment now, or per huggingface_hub (which reads it at import)."""
    value = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"} or _hub().constants.is_offline_mode()


def _check_name(name: str) -> None:
    if name not in OFFICIAL_MODELS:
        raise ValueError(
            f"unknown model {name!r}; official models are {list(OFFICIAL_MODELS)}. "
            "For your own folder, pass its path to load_session(model=path)"
        )


def _how_to_get(name: str, revision: str) -> str:
    return (
        f"Get the folder {name}/ (plans.json, fold_0/checkpoint_final.pth, ...) one of these "
        "ways:\n"
        f"  * online: nni_jupyter.download_weights({name!r}) (about 400 MB into the Hugging Face "
        f"cache {_hub_cache_dir()}); unset HF_HUB_OFFLINE first if it is set;\n"
        f"  * on a machine with internet: hf download {HUB_REPO_ID} --revision {revision} "
        f"--include '{name}/*' --local-dir <dir> (or the files from "
        f"https://huggingface.co/{HUB_REPO_ID}/tree/{revision}/{name}), copy <dir>/{name} here, "
        f"and set {MODEL_DIR_ENV}=<path to {name}> (or pass load_session(model=<path>));\n"
        "  * or use the bundled demo model: load_session(model='demo')."
    )


def _from_env(name: str) -> Path | None:
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


def _from_hub_cache(name: str, revision: str) -> Path | None:
    hub = _hub()
    cache_dir = _hub_cache_dir()
    # A cheap probe first: is plans.json of this revision in the cache at all?
    probe = hub.try_to_load_from_cache(
        HUB_REPO_ID, f"{name}/plans.json", cache_dir=cache_dir, revision=revision
    )
    if not isinstance(probe, str):
        return None
    try:
        snapshot = hub.snapshot_download(
            HUB_REPO_ID,
            revision=revision,
            allow_patterns=[f"{name}/*"],
            cache_dir=cache_dir,
            local_files_only=True,
        )
    except Exception:  # incomplete or missing snapshot: treated as not found
        return None
    folder = Path(snapshot) / name
    return folder if is_model_folder(folder) else None


def find_model(
    name: str = DEFAULT_MODEL,
    local_dir: str | Path | None = None,
    revision: str = HUB_REVISION,
) -> Path | None:
    """Return the local folder of an official model, or None; never uses the network.

    Parameters
    ----------
    name
        Official model name, e.g. ``"nnInteractive_v1.0"``.
    local_dir
        A folder passed to :func:`download_weights` before; ``local_dir/<name>`` is checked.
        Default :data:`LOCAL_MODEL_DIR`.
    revision
        Hub revision whose cached snapshot counts.

    Returns
    -------
    Path or None
        The model folder (holding ``plans.json`` and ``fold_*``), or None when it is not present.
    """
    _check_name(name)
    found = _from_env(name)
    if found is not None:
        return found
    local = Path(LOCAL_MODEL_DIR if local_dir is None else local_dir).expanduser() / name
    if is_model_folder(local):
        return local
    return _from_hub_cache(name, revision)


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
        None: ``nnInteractive_v1.0`` when :func:`find_model` finds it (never downloading), else
        the bundled demo model. ``"demo"``, an official name or a model folder: that model.
    download
        Allow downloading an official model that is asked for by name and not on this machine.

    Raises
    ------
    ModelNotFoundError
        When the requested model cannot be found or downloaded (the message says how to get it).
    """
    if model is None:
        try:
            found = find_model(DEFAULT_MODEL)
        except ImportError:  # no huggingface_hub: no hub cache to look in
            found = None
        if found is not None:
            return ModelChoice(found, DEFAULT_MODEL, is_demo=False)
        model = DEMO_MODEL
    folder = resolve_model(model, download=download)
    if model == DEMO_MODEL:
        return ModelChoice(folder, DEMO_MODEL, is_demo=True)
    name = model if isinstance(model, str) and model in OFFICIAL_MODELS else folder.name
    return ModelChoice(folder, name, is_demo=False)


def download_weights(
    name: str = DEFAULT_MODEL,
    local_dir: str | Path | None = None,
    revision: str = HUB_REVISION,
) -> Path:
    """Download an official model folder from the Hugging Face hub (or find it cached).

    Only that folder's files are fetched, at the pinned ``revision``, with huggingface_hub's
    progress bar. Without ``local_dir`` they go to the hub cache (``HF_HOME``/``HF_HUB_CACHE``);
    already-cached files are not downloaded again.

    Parameters
    ----------
    name
        Official model name, e.g. ``"nnInteractive_v1.0"``.
    local_dir
        Download into ``local_dir/<name>/`` instead of the hub cache.
    revision
        Hub revision (branch, tag or commit sha); default the pinned :data:`HUB_REVISION`.

    Returns
    -------
    Path
        The model folder.

    Raises
    ------
    ModelNotFoundError
        Offline (``HF_HUB_OFFLINE=1``, no network) and not cached, or the hub lacks the folder;
        the message says how to get the folder and where to put it.
    """
    _check_name(name)
    hub = _hub()
    kwargs: dict[str, Any] = {"local_dir": str(local_dir)} if local_dir is not None else {}
    try:
        snapshot = hub.snapshot_download(
            HUB_REPO_ID,
            revision=revision,
            allow_patterns=[f"{name}/*"],
            cache_dir=_hub_cache_dir(),
            local_files_only=_offline(),
            **kwargs,
        )
    except Exception as error:
        why = (
            "HF_HUB_OFFLINE is set and the files are not in the cache"
            if _offline()
            else f"{type(error).__name__}: {error}"
        )
        raise ModelNotFoundError(
            f"could not download {name} from {HUB_REPO_ID} (revision {revision}): {why}.\n"
            f"{_how_to_get(name, revision)}"
        ) from error
    folder = Path(snapshot) / name
    if not is_model_folder(folder):
        raise ModelNotFoundError(
            f"{HUB_REPO_ID} (revision {revision}) gave no complete {name}/ folder at {folder} "
            f"(expected plans.json and fold_0/).\n{_how_to_get(name, revision)}"
        )
    return folder


def read_license(folder: str | Path) -> str | None:
    """First non-empty line of ``folder/LICENSE``, or None when the folder has no LICENSE file."""
    path = Path(folder) / "LICENSE"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return line.strip()
    return None


def resolve_model(model: str | os.PathLike[str] = DEFAULT_MODEL, download: bool = True) -> Path:
    """Turn ``"demo"``, an official name or a path into a model folder (downloading if allowed)."""
    if isinstance(model, str) and model == DEMO_MODEL:
        from nni_jupyter.demo import demo_model_path

        folder = Path(demo_model_path())
        if not is_model_folder(folder):
            raise ModelNotFoundError(
                f"the bundled demo model is missing from this install ({folder}); reinstall "
                "nni_jupyter, or in a source checkout train it (python -m nni_jupyter.demo.train)"
            )
        return folder
    if isinstance(model, str) and model in OFFICIAL_MODELS:
        found = find_model(model)
        if found is not None:
            return found
        if not download:
            raise ModelNotFoundError(
                f"{model} is not on this machine.\n{_how_to_get(model, HUB_REVISION)}"
            )
        return download_weights(model)
    folder = Path(model).expanduser()
    if not is_model_folder(folder):
        raise ModelNotFoundError(
            f"{folder} is not a model folder (expected plans.json and a fold_*/ folder with "
            f"checkpoint_final.pth). Use 'demo', one of {list(OFFICIAL_MODELS)}, or such a folder"
        )
    return folder


def load_session(
    model: str | Path = DEFAULT_MODEL,
    device: Any = "auto",
    *,
    download: bool = True,
    show_license: Callable[[str], None] | None = print,
    precision: str = "auto",
    **session_kwargs: Any,
) -> nnInteractiveInferenceSession:
    """Build nni_jupyter's inference session with a model loaded, ready for ``set_image``.

    Parameters
    ----------
    model
        ``"nnInteractive_v1.0"`` (found locally or downloaded), ``"demo"`` (the bundled demo
        model), or the path of a trained-model folder.
    device
        ``"auto"`` (CUDA, then MPS, then CPU), or a device string / ``torch.device``.
    download
        Allow downloading official weights that are not on this machine.
    show_license
        Called with a licence notice when weights load, or with ``DEMO_NOTICE`` for the demo
        model (default ``print``); None to stay silent. The official weights are
        CC BY-NC-SA 4.0: non-commercial use only.
    precision
        Network precision: ``"auto"`` (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32),
        ``"fp32"`` (the reference's numbers), ``"bf16"`` or ``"fp16"``.
    **session_kwargs
        Passed to :class:`nni_jupyter.inference.nnInteractiveInferenceSession`
        (e.g. ``do_autozoom``, ``verbose``, ``torch_n_threads``).

    Returns
    -------
    nni_jupyter.inference.nnInteractiveInferenceSession
        The initialised session.
    """
    folder = resolve_model(model, download=download)
    from nni_jupyter.inference import nnInteractiveInferenceSession, pick_device

    # the session's own licence banner would repeat the notice below
    session_kwargs.setdefault("print_license", False)
    session = nnInteractiveInferenceSession(
        device=pick_device(device), precision=precision, **session_kwargs
    )
    session.initialize_from_trained_model_folder(str(folder))
    if show_license is not None and model == DEMO_MODEL:
        show_license(f"nni_jupyter: {DEMO_NOTICE}")
    elif show_license is not None:
        show_license(license_notice(folder, getattr(session, "license", None)))
    return session


def license_notice(folder: str | Path, license_id: str | None = None) -> str:
    """The one-paragraph licence notice shown when weights from ``folder`` load."""
    license_id = license_id or read_license(folder) or "unknown (the folder has no LICENSE file)"
    notice = f"Model weights {Path(folder).name}: licence {license_id}."
    if OFFICIAL_LICENSE in license_id:
        notice += (
            f" Non-commercial use only, share alike, with attribution ({_LICENSE_URL}). "
            "nni_jupyter's code is Apache-2.0."
        )
    return notice
