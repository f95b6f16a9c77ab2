"""What type checkers see of the public API (``mypy tests/typing`` in .ci/test; never run).

``assert_type`` fails the type check when a public name or a ``wait=`` overload loses its type.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
from typing_extensions import assert_type

import nni_jupyter as nj
from nni_jupyter.annotation import Outcome

Bbox = list[list[int]]


def check(image: np.ndarray) -> None:
    seg = nj.Segmenter(image)
    assert_type(seg, nj.Segmenter)
    assert_type(seg.add_point((1, 2, 3)), Bbox | None)
    assert_type(seg.add_point((1, 2, 3), wait=False), Future[Outcome])
    assert_type(seg.add_box([(1, 2), (3, 4)], axis=2, index=5), Bbox | None)
    assert_type(seg.new_object(), int)
    assert_type(seg.undo(), bool)
    assert_type(seg.redo(wait=False), Future[Outcome])
    annotation = nj.Annotation(image)
    assert_type(annotation.add_scribble([(1, 2), (3, 4)], axis=0, index=1), Bbox | None)
    assert_type(annotation.add_lasso(image, wait=False), Future[Outcome])
    assert_type(seg.paint([(1, 2), (3, 4)], 2.0, axis=2, index=5), Bbox | None)
    assert_type(seg.erode(1.5, wait=False), Future[Outcome])
    assert_type(annotation.new_object("liver"), int)
    assert_type(nj.read_image("ct.nii.gz"), nj.Image)
