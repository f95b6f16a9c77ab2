"""Bbox arithmetic: one module for numpy arrays and torch tensors alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nni_jupyter.inference.regions import (
    bbox_shape,
    centered_bbox,
    from_local,
    nonzero_bbox,
    to_local,
    union_bboxes,
)


def test_bbox_helpers():
    mask = np.zeros((5, 6, 7), dtype=bool)
    assert nonzero_bbox(mask) is None
    mask[1, 2:4, 6] = True
    assert nonzero_bbox(mask) == [[1, 2], [2, 4], [6, 7]]
    assert bbox_shape([[1, 2], [2, 4], [6, 7]]) == (1, 2, 1)
    assert union_bboxes([None, [[0, 1], [5, 6], [2, 3]], [[3, 4], [0, 1], [2, 9]]]) == [
        [0, 4],
        [0, 6],
        [2, 9],
    ]
    assert union_bboxes([None, None]) is None
    assert from_local([[0, 1], [2, 3], [0, 2]], [[10, 20], [5, 9], [1, 4]]) == [
        [10, 11],
        [7, 8],
        [1, 3],
    ]


def test_from_local_undoes_to_local():
    frame = [[10, 20], [5, 9], [1, 4]]
    bbox = [[12, 15], [5, 6], [3, 4]]
    assert from_local(to_local(bbox, frame), frame) == bbox


def test_centered_bbox_puts_the_odd_leftover_above():
    assert centered_bbox([10, 10], [4, 5]) == [[8, 12], [8, 13]]


@pytest.mark.parametrize("shape", [(7,), (5, 9), (40, 6, 7), (3, 4, 5, 6)])
def test_nonzero_bbox_is_the_same_for_numpy_and_torch_in_any_dimension(shape):
    rng = np.random.default_rng(len(shape))
    for density in (0.0, 0.001, 0.05):
        mask = (rng.random(shape) < density).astype(np.uint8)
        hits = np.argwhere(mask)
        corners = zip(hits.min(0), hits.max(0), strict=True) if len(hits) else []
        expected = [[int(lo), int(hi) + 1] for lo, hi in corners] or None
        assert nonzero_bbox(mask) == expected
        assert nonzero_bbox(torch.from_numpy(mask)) == expected
        assert nonzero_bbox(torch.from_numpy(mask).bool()) == expected
