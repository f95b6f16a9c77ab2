"""nni_jupyter: nnInteractive 3D promptable segmentation in Jupyter notebooks.

Heavy parts (torch, the widget) load on first use, so ``import nni_jupyter`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute" (module relative to this package)
_LAZY = {
    "InferenceSession": "inference:InferenceSession",
    "nnInteractiveInferenceSession": "inference:nnInteractiveInferenceSession",
    "pick_device": "inference:pick_device",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'nni_jupyter' has no attribute {name!r}")
    module_name, attribute = target.split(":")
    value = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
