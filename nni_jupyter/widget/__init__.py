"""Kernel side of the nni_jupyter widget: the :class:`Segmenter`, a view of an annotation.

The wire protocol with the browser is ``PROTOCOL.md`` in this folder.
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from ..annotation.prompts import Command, MaskCrop, Prompt, item_from_dict
from .segmenter import Segmenter

__all__ = ["Command", "MaskCrop", "Prompt", "Segmenter", "item_from_dict"]

#: Modules that lived here before the headless core (nni_jupyter.annotation) took them.
MOVED = {
    "annotator": "runner",
    "codec": "codec",
    "guards": "guards",
    "inputs": "inputs",
    "lifetime": "lifetime",
    "memory": "memory",
    "models": "sessions",
    "npz": "npz",
    "objects": "objects",
    "outputs": "outputs",
    "persistence": "persistence",
    "prompt_api": "verbs",
    "prompt_log": "log",
    "prompts": "prompts",
    "raster": "raster",
    "record": "record",
    "sparse_owner": "sparse_owner",
    "steps": "steps",
    "worker": "worker",
}


def __getattr__(name: str) -> ModuleType:
    # ``from nni_jupyter.widget import memory`` keeps working, with a warning that says where
    if name not in MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = f"nni_jupyter.annotation.{MOVED[name]}"
    warnings.warn(
        f"nni_jupyter.widget.{name} moved to {new} (the annotation core, no widget needed); "
        "import it from there",
        FutureWarning,
        stacklevel=2,
    )
    return importlib.import_module(new)
