"""One loaded network per model and device, shared by every session that loads it.

A notebook often holds several sessions of one model: a Segmenter per image, a cell re-run before
the old Segmenter is closed. Each used to load its own copy of the weights (about 400 MB for
nnInteractive v1.0, on the GPU too). Sessions only read the network (inference mode, eval), so one
copy serves them all; it is freed when the last session holding it is.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import devices
from .checkpoint import LoadedModel, load_model_folder
from .checkpoint_file import checkpoint_path
from .warm import CompilingRunner

_CACHE: weakref.WeakValueDictionary[tuple[Any, ...], SharedNetwork] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()


@dataclass(eq=False)
class SharedNetwork:
    """A loaded model folder and the module that runs it (compiling or traced when asked)."""

    model: LoadedModel
    network: nn.Module
    runner: nn.Module
    #: Whether ``runner`` compiles the network (:class:`~.warm.CompilingRunner`).
    compiles: bool = False


def _fingerprint(folder: Path, checkpoint: Path) -> tuple[Any, ...]:
    """What identifies a model's files: names, sizes and modification times."""
    files = sorted(p for p in folder.iterdir() if p.is_file()) + [checkpoint]
    return tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def dummy_input(model: LoadedModel, device: torch.device) -> torch.Tensor:
    """A zero input of the network's shape ``[1, C, *patch]``."""
    channels = model.num_image_channels + model.settings.num_interaction_channels
    return torch.zeros((1, channels, *model.patch_size), device=device)


def load_shared(
    folder: str | Path,
    use_fold: int | str | None,
    checkpoint_name: str,
    device: torch.device,
    compile_network: bool | str = False,
    optimize_cpu_graph: bool = False,
    precision: str = "fp32",
) -> SharedNetwork:
    """The network of ``folder`` on ``device``: loaded once, then shared while any session
    holds it (a changed file on disk loads anew). ``compile_network`` is a session's
    ``use_torch_compile`` (``"auto"`` is decided here, knowing the network and ``precision``:
    :func:`~.devices.wants_compile`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    checkpoint = checkpoint_path(folder, use_fold, checkpoint_name)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    optimize = optimize_cpu_graph and device.type == "cpu"
    key = (_fingerprint(folder, checkpoint), str(device), compile_network, precision, optimize)
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            return found
        model = load_model_folder(folder, use_fold, checkpoint_name, device)
        network = model.network
        runner: nn.Module = network
        cost = devices.forward_cost(network, model.patch_size)
        compiles = devices.wants_compile(compile_network, device, precision, cost)
        if compiles:
            runner = CompilingRunner(network)  # compiled by the first session's warm-up thread
        elif optimize:
            runner = devices.optimize_for_cpu(network, dummy_input(model, device))
        shared = SharedNetwork(model, network, runner, compiles)
        _CACHE[key] = shared
        return shared


def loaded_count() -> int:
    """How many distinct networks are loaded and held by some session now."""
    return len(_CACHE)
