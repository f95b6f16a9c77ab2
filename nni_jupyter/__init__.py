"""nni_jupyter: nnInteractive 3D promptable segmentation in Jupyter notebooks.

Heavy parts (torch, the widget) load on first use, so ``import nni_jupyter`` stays fast. Type
checkers and IDEs read the same names, with their types, from ``__init__.pyi`` (as scikit-image
does); ``tests/test_public_api.py`` fails when the two differ.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__

# public name -> "module:attribute" (module relative to this package)
_LAZY = {
    "InferenceSession": "inference:InferenceSession",
    "nnInteractiveInferenceSession": "inference:nnInteractiveInferenceSession",
    "pick_device": "inference:pick_device",
    "benchmark_device": "inference.benchmark:benchmark_device",
    "Annotation": "annotation:Annotation",
    "Segmenter": "widget:Segmenter",
    "Prompt": "widget:Prompt",
    "demo_model_path": "demo:demo_model_path",
    "download_weights": "weights:download_weights",
    "find_model": "weights:find_model",
    "list_models": "weights:list_models",
    "load_session": "weights:load_session",
    "read_image": "io:read_image",
    "write_image": "io:write_image",
    "write_mask": "io:write_mask",
    "write_labels": "io:write_labels",
    "measure": "measurements:measure",
    "read_prompt_log": "annotation.log:read",
    "view3d": "surfaces:view3d",
    "live_view3d": "surfaces:live_view3d",
    "Image": "image:Image",
    "Study": "study:Study",
    "write_dicom_seg": "exports:write_dicom_seg",
    "write_ome_zarr": "exports:write_ome_zarr",
    "write_labels_table": "exports:write_labels_table",
    "check_server": "remote:check_server",
    "remote_session": "remote:remote_session",
}
# public submodules, imported on first attribute access
_SUBMODULES = {
    "annotation",
    "data",
    "demo",
    "evaluation",
    "exports",
    "inference",
    "io",
    "plot",
    "remote",
    "study",
    "weights",
    "widget",
}


__all__ = sorted({"__version__", *_LAZY, *_SUBMODULES})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'nni_jupyter' has no attribute {name!r}")
    module_name, attribute = target.split(":")
    value = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
