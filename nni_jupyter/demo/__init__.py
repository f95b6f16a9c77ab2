"""The bundled demo model: a small nnInteractive checkpoint trained on synthetic phantoms.

Where it lies is a fact of :mod:`nni_jupyter.bundled`, below both the model search and this
trainer; :func:`demo_model_path` is that fact, re-exported.
"""

from __future__ import annotations

from ..bundled import demo_model_path

__all__ = ["demo_model_path"]
