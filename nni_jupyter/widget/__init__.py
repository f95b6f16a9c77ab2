"""Kernel side of the nni_jupyter widget: the :class:`Segmenter` and the values it records.

The wire protocol with the browser is ``PROTOCOL.md`` in this folder.
"""

from __future__ import annotations

from .prompts import Command, MaskCrop, Prompt, item_from_dict
from .segmenter import Segmenter

__all__ = ["Command", "MaskCrop", "Prompt", "Segmenter", "item_from_dict"]
