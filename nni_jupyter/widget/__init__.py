"""Kernel side of the nni_jupyter widget: the :class:`Segmenter`, a view of an annotation.

The wire protocol with the browser is ``PROTOCOL.md`` in this folder.
"""

from __future__ import annotations

from ..annotation.prompts import Command, MaskCrop, Prompt, item_from_dict
from .segmenter import Segmenter

__all__ = ["Command", "MaskCrop", "Prompt", "Segmenter", "item_from_dict"]
