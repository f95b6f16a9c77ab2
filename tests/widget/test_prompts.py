"""Prompt and Command values: structural checks and the dict round trip used for replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nni_jupyter.annotation.prompts import Command, MaskCrop, Prompt, item_from_dict


def test_mask_crop_keeps_only_the_nonzero_bbox():
    volume = np.zeros((10, 11, 12), dtype=np.uint8)
    volume[2:5, 3, 7:9] = 1
    crop = MaskCrop.from_volume(volume)
    assert crop.bbox == ((2, 5), (3, 4), (7, 9))
    assert np.array_equal(crop.volume(), volume)
    assert crop.crop().shape == (3, 1, 2)
    empty = MaskCrop.from_volume(np.zeros((4, 4, 4)))
    assert empty.empty and not empty.volume().any()
    with pytest.raises(ValueError, match="3-D"):
        MaskCrop.from_volume(np.zeros((4, 4)))


def test_items_round_trip_through_json():
    volume = np.zeros((6, 6, 6), dtype=bool)
    volume[1:3, 2, 2:5] = True
    items = [
        Prompt("point", True, point=(1.5, 2, 3)),
        Prompt("box", False, bbox=[[0, 4], [1, 2], [0, 6]]),
        Prompt("scribble", True, axis=1, index=2, vertices=((0.5, 1), (3, 4.25))),
        Prompt("lasso", False, mask=MaskCrop.from_volume(volume)),
        Prompt("mask", mask=MaskCrop.from_volume(volume), refine=True),
        Command("undo"),
        Command("new_object", object_name="liver", class_id=2),
        Command("select_object", object=2),
        Command("set_overlap", overlap="overwrite"),
    ]
    restored = [item_from_dict(json.loads(json.dumps(item.to_dict()))) for item in items]
    assert restored == items


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Prompt("brush", point=(1, 2, 3)), "tool must be one of"),
        (lambda: Prompt("point", "yes", point=(1, 2, 3)), "positive"),
        (lambda: Prompt("point"), "exactly one of"),
        (lambda: Prompt("point", point=(1, 2, 3), bbox=[[0, 1]] * 3), "exactly one of"),
        (lambda: Prompt("point", bbox=[[0, 1]] * 3), "takes vertices or point"),
        (lambda: Prompt("point", point=(1, 2)), "(x, y, z)"),
        (lambda: Prompt("point", point=(1, float("nan"), 2)), "finite"),
        (lambda: Prompt("box", bbox=[[0, 1], [3, 3], [0, 1]]), "axis 1 is empty"),
        (lambda: Prompt("box", bbox=[[0, 1.5], [0, 1], [0, 1]]), "integer pairs"),
        (lambda: Prompt("box", bbox="0:1"), "bbox must be"),
        (lambda: Prompt("scribble", vertices=((1, 2),)), "needs axis and index"),
        (lambda: Prompt("scribble", axis=3, index=0, vertices=((1, 2),)), "axis must be"),
        (lambda: Prompt("point", refine=True, point=(1, 2, 3)), "refine"),
        (lambda: Command("explode"), "command must be one of"),
        (lambda: Command("select_object"), "needs an object id"),
        (lambda: Command("undo", object=1), "takes no object id"),
        (lambda: Command("set_overlap", overlap="merge"), "overlap must be one of"),
        (lambda: item_from_dict({"kind": "nope"}), "kind must be"),
    ],
)
def test_invalid_items_are_rejected(make, words):
    with pytest.raises(ValueError) as caught:
        make()
    assert words in str(caught.value)
