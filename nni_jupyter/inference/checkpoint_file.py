"""The checkpoint file of a model folder, and its safe unpickling.

Which file: the given fold (or the only one) and checkpoint name, never a path that leads out of
the model folder, except into the blob store of the Hugging Face cache that holds the folder.

How it loads: ``torch.load(weights_only=True)``, which builds only tensors and plain containers,
plus the data-only numpy globals nnU-Net training checkpoints hold (the logged Dice values are
numpy float64 scalars), under their numpy 1.x and 2.x names. Nothing else is constructed or run.
"""

from __future__ import annotations

import pickle
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch


def fold_folder(folder: Path, use_fold: int | str | None) -> Path:
    """The ``fold_*`` folder to load: the given fold (``"all"`` allowed) or the only one present."""
    if use_fold is not None:
        if use_fold != "all" and (isinstance(use_fold, bool) or not str(use_fold).isdigit()):
            raise ValueError(f"use_fold must be a fold number >= 0 or 'all'; got {use_fold!r}")
        name = "fold_all" if use_fold == "all" else f"fold_{int(use_fold)}"
        return folder / name
    folds = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("fold_"))
    if len(folds) != 1:
        raise ValueError(
            f"cannot infer the fold: {folder} holds {len(folds)} fold_ folders {folds}; "
            "pass use_fold=<number> or use_fold='all'"
        )
    return folder / folds[0]


def hub_blob_store(folder: Path) -> Path | None:
    """The Hugging Face cache's ``<repo>/blobs`` folder when ``folder`` lies in one of its
    snapshots (``<repo>/snapshots/<revision>/...``), else None.

    The hub client stores each file once under ``blobs/`` and links it from every snapshot, so a
    cached model folder's files are symlinks that lead out of the folder, into that store.
    """
    for parent in folder.absolute().parents:
        if parent.name == "snapshots" and (parent.parent / "blobs").is_dir():
            return parent.parent / "blobs"
    return None


def checkpoint_path(folder: Path, use_fold: int | str | None, checkpoint_name: str) -> Path:
    """The checkpoint file to load; refuses one that lies outside ``folder`` (``..`` parts,
    absolute names or symlinks leading out), which a downloaded model folder must not reach.

    The one place a link may lead is the blob store of the Hugging Face cache that holds the
    folder (see :func:`hub_blob_store`).
    """
    path = fold_folder(folder, use_fold) / checkpoint_name
    target = path.resolve()
    roots = [folder.resolve()]
    store = hub_blob_store(folder)
    if store is not None:
        roots.append(store.resolve())
    if not any(target.is_relative_to(root) for root in roots):
        raise ValueError(
            f"refusing checkpoint {path}: it resolves to {target}, outside the model "
            f"folder {roots[0]}. Pass a fold number and a plain file name inside the folder."
        )
    return path


#: Checkpoint keys inference reads; everything else in a training checkpoint is ignored.
REQUIRED_KEYS = ("network_weights", "init_args")
#: Where numpy keeps its pickling helpers: ``numpy._core`` from numpy 2, ``numpy.core`` before.
NUMPY_MODULES = ("numpy._core.multiarray", "numpy.core.multiarray")
#: Booleans, integers, floats and complex numbers; no strings, objects or structured types.
NUMERIC_DTYPE_CODES = "?bBhHiIlLqQefdgFDG"

# torch's allow-list is process-wide: one load at a time adds and removes our entries.
_ALLOW_LOCK = threading.Lock()


def release_globals() -> list[Any]:
    """The globals a released nnInteractive checkpoint may name beyond torch's defaults.

    nnU-Net's trainer logs per-epoch values computed with numpy (``np.nanmean``), so the published
    checkpoint pickles numpy float64 scalars (and may hold dtypes or small arrays). These only
    rebuild numbers from bytes: no code runs. Each is allowed under both numpy 1.x
    (``numpy.core.multiarray``) and numpy 2.x (``numpy._core.multiarray``) names, whichever numpy
    saved the file, and mapped to this numpy's own function.
    """
    scalar = np.float64(0).__reduce__()[0]
    reconstruct = np.zeros(1).__reduce__()[0]
    # A pickled dtype is rebuilt as np.dtype(...) and then given its state, which torch allows only
    # for allow-listed classes: numpy >= 1.25 gives each dtype its own class (Float64DType, ...).
    dtype_classes = {type(np.dtype(code)) for code in NUMERIC_DTYPE_CODES}
    allowed: list[Any] = [np.dtype, np.ndarray, *sorted(dtype_classes, key=lambda c: c.__name__)]
    for module in NUMPY_MODULES:
        allowed += [(scalar, f"{module}.scalar"), (reconstruct, f"{module}._reconstruct")]
    return allowed


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)`` and :func:`release_globals`.

    Raises
    ------
    RuntimeError
        When the file needs anything else to unpickle (refused, never run), is damaged or
        incomplete, or lacks the keys inference needs.
    """
    try:
        with _ALLOW_LOCK:
            present = torch.serialization.get_safe_globals()
            extra = [entry for entry in release_globals() if entry not in present]
            with torch.serialization.safe_globals(extra):
                content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise _unsafe(path, error) from error
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, OSError) as error:  # torch's zip reader on a cut-off file
        raise RuntimeError(
            f"cannot read checkpoint {path}: the file is damaged or incomplete (an interrupted "
            f"download or copy?). Download or copy it again. Details: {error}"
        ) from error
    return _check_content(path, content)


def _check_content(path: Path, content: Any) -> dict[str, Any]:
    checked: dict[str, Any] = content if isinstance(content, dict) else {}
    missing = [key for key in REQUIRED_KEYS if key not in checked]
    if missing:
        found = sorted(map(str, content)) if isinstance(content, dict) else type(content).__name__
        raise RuntimeError(
            f"checkpoint {path} is not an nnU-Net/nnInteractive checkpoint: it lacks {missing} "
            f"(found {found}). Expected a dict with 'network_weights' and "
            "'init_args': {'configuration': ...}."
        )
    init_args = checked["init_args"]
    if not isinstance(init_args, dict) or not isinstance(init_args.get("configuration"), str):
        raise RuntimeError(
            f"checkpoint {path}: init_args must name the plans configuration as a string "
            f"(init_args['configuration']); got {init_args!r:.200}"
        )
    return checked


def _unsafe(path: Path, error: Exception) -> RuntimeError:
    return RuntimeError(
        f"refusing to load {path}: it holds pickled Python objects beyond tensors, plain "
        "containers and numpy numbers, and unpickling them could run arbitrary code "
        "(weights_only=False). If you trust its source, re-save it with only "
        f"'network_weights', 'trainer_name' and 'init_args'. Details: {error}"
    )
