"""More than 255 objects: the owner map widens to uint16, and every output keeps the ids."""

from __future__ import annotations

import numpy as np

import nni_jupyter as nj
from nni_jupyter.annotation.objects import ObjectStore
from nni_jupyter.annotation.prompts import Command, MaskCrop, Prompt
from nni_jupyter.widget import Segmenter

COUNT = 300


SHAPE = (12, 12, 12)  # small: the session's work per prompt grows with the image


def corner(k: int) -> tuple[int, int, int]:
    """A distinct 2x1x1 block per object on a 2-voxel grid of the image."""
    x, y, z = np.unravel_index(k, (6, 12, 12))
    return 2 * int(x), int(y), int(z)


def test_the_store_widens_only_when_an_id_above_255_exists():
    store = ObjectStore((8, 8, 8))
    for _ in range(254):
        with store.step("new_object"):
            store.create()
    assert store.active == 255 and store.owner.dtype == np.uint8
    with store.step("new_object"):
        store.create()
    assert store.active == 256 and store.owner.dtype == np.uint16
    with store.step("prompt"):
        store.write_active([[0, 2], [0, 2], [0, 2]], np.ones((2, 2, 2), np.uint8))
    assert store.instance_map()[0, 0, 0] == 256
    assert store.aggregate("semantic")[0, 0, 0] == 256
    assert store.undo() is not None and not store.owner.any()
    assert store.redo() is not None and store.mask(256).sum() == 8


def test_300_objects_keep_their_ids_through_labels_save_and_prompt_log(
    make_segmenter, make_session, image, tmp_path
):
    image = image[: SHAPE[0], : SHAPE[1], : SHAPE[2]].copy()
    seg = make_segmenter(image)
    items = []  # one batch: new_object and add_mask (a mask prompt) per object
    for k in range(COUNT):
        if k:
            items.append(Command("new_object", class_id=1000 + k))
        mask = np.zeros(image.shape, np.uint8)
        x, y, z = corner(k)
        mask[x : x + 2, y, z] = 1
        items.append(Prompt("mask", mask=MaskCrop.from_volume(mask)))
    seg.replay(items)
    labels = seg.labels
    assert labels.dtype == np.uint16 and labels.max() == COUNT
    assert [int(labels[corner(k)]) for k in range(COUNT)] == list(range(1, COUNT + 1))
    assert np.bincount(labels.ravel())[1:].tolist() == [2] * COUNT
    assert seg.aggregate("semantic")[corner(COUNT - 1)] == 1000 + COUNT - 1

    # the browser's full label state names every id, 256 and above included
    seg._send_labels(7)
    patched = {content["object"] for content, _ in seg.sent if content["type"] == "mask_patch"}
    assert patched == set(range(1, COUNT + 1))

    log = nj.read_prompt_log(seg.save_prompt_log(tmp_path / "log.json"))
    assert [obj["id"] for obj in log["objects"]] == list(range(1, COUNT + 1))

    restored = Segmenter.load(seg.save(tmp_path / "many.npz"), image, session=make_session())
    try:
        assert np.array_equal(restored.labels, labels)
        assert restored.active_object == COUNT
        assert restored.prompt_log()["objects"] == seg.prompt_log()["objects"]
    finally:
        restored.close()
