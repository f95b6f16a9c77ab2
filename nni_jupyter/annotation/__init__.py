"""The headless annotation core: an image, its objects, prompts, undo, the prompt log, saving.

No anywidget here: :class:`Annotation` serves scripts, tests and Dask workers as it is, and the
widget (:class:`nni_jupyter.Segmenter`) is a view of one.
"""

from __future__ import annotations

from .annotation import Annotation, Finished
from .log import read as read_log
from .prompts import Command, MaskCrop, Prompt, item_from_dict
from .runner import Outcome, Patch

__all__ = [
    "Annotation",
    "Command",
    "Finished",
    "MaskCrop",
    "Outcome",
    "Patch",
    "Prompt",
    "item_from_dict",
    "read_log",
]
