"""A Python stand-in for the browser's label volume: applies the kernel's messages as js/ does."""

from __future__ import annotations

import numpy as np

from nni_jupyter.annotation.codec import decode_mask
from nni_jupyter.core.regions import bbox_shape, to_slices


class LabelVolume:
    """The browser's uint8 label volume, updated from ``labels_reset`` and ``mask_patch``."""

    def __init__(self, shape):
        self.labels = np.zeros(shape, dtype=np.uint8)

    def apply(self, content: dict, buffers) -> None:
        if content["type"] == "labels_reset":
            self.labels[:] = 0
        elif content["type"] == "mask_patch":
            assert content["encoding"] == "packbits-deflate"
            crop = decode_mask(bytes(buffers[0]), bbox_shape(content["bbox"]))
            view = self.labels[to_slices(content["bbox"])]
            object_id = content["object"]
            view[(crop == 0) & (view == object_id)] = 0
            view[crop == 1] = object_id

    def apply_all(self, sent) -> None:
        for content, buffers in sent:
            self.apply(content, buffers)
