"""The object store: overlap policies, aggregation, voxel counts and undo/redo across objects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nni_jupyter.annotation.codec import decode_mask
from nni_jupyter.annotation.objects import ObjectStore

SHAPE = (12, 10, 8)
FULL = [[0, 12], [0, 10], [0, 8]]


def block(x0, x1, y0=0, y1=10, z0=0, z1=8) -> np.ndarray:
    out = np.zeros(SHAPE, dtype=np.uint8)
    out[x0:x1, y0:y1, z0:z1] = 1
    return out


def write(store: ObjectStore, prediction: np.ndarray, bbox=FULL) -> None:
    with store.step("prompt"):
        store.write_active(bbox, prediction[tuple(slice(lo, hi) for lo, hi in bbox)])


def new_object(store: ObjectStore, name=None, class_id=None) -> int:
    with store.step("new_object"):
        return store.create(name, class_id)


def snapshot(store: ObjectStore):
    return store.owner.copy(), dict(store.objects), store.active, dict(store.voxels)


def assert_counts_match(store: ObjectStore) -> None:
    for object_id in store.objects:
        assert store.voxels[object_id] == int((store.owner == object_id).sum())


def test_starts_with_one_empty_active_object():
    store = ObjectStore(SHAPE)
    assert store.active == 1 and list(store.objects) == [1]
    assert store.objects[1].name == "object 1" and store.objects[1].class_id == 1
    assert not store.mask().any() and store.mask().dtype == np.uint8


def test_lock_keeps_finished_objects_and_overwrite_takes_them():
    for policy, expected_first in (("lock", 6 * 80), ("overwrite", 3 * 80)):
        store = ObjectStore(SHAPE, overlap=policy)
        write(store, block(0, 6))
        new_object(store)
        write(store, block(3, 9))
        assert store.voxels[1] == expected_first
        assert store.mask(1).sum() == expected_first
        assert store.mask(2).sum() == (3 if policy == "lock" else 6) * 80
        assert not (store.mask(1) & store.mask(2)).any()
        assert_counts_match(store)


def test_active_object_releases_voxels_outside_its_new_prediction():
    store = ObjectStore(SHAPE)
    write(store, block(0, 6))
    write(store, block(4, 6), bbox=[[0, 5], [0, 10], [0, 8]])
    assert np.array_equal(store.mask(), block(4, 6))


def test_aggregation_modes():
    store = ObjectStore(SHAPE)
    write(store, block(0, 2))
    new_object(store, "kidney", class_id=7)
    write(store, block(4, 6))
    new_object(store, "kidney 2", class_id=7)
    write(store, block(8, 10))
    instance = store.aggregate("instance")
    assert instance.dtype == np.uint16
    assert instance[1, 0, 0] == 1 and instance[5, 0, 0] == 2 and instance[9, 0, 0] == 3
    semantic = store.aggregate("semantic")
    assert semantic.dtype == np.uint16
    assert semantic[1, 0, 0] == 1 and semantic[5, 0, 0] == 7 and semantic[9, 0, 0] == 7
    assert semantic[3, 0, 0] == 0
    separate = store.aggregate("separate")
    assert sorted(separate) == [1, 2, 3]
    assert np.array_equal(separate[2], block(4, 6))
    with pytest.raises(ValueError, match="instance, semantic, separate"):
        store.aggregate("union")


def test_undo_and_redo_walk_across_objects():
    store = ObjectStore(SHAPE, overlap="overwrite")
    states = [snapshot(store)]
    write(store, block(0, 6))
    states.append(snapshot(store))
    new_object(store, "second")
    states.append(snapshot(store))
    write(store, block(4, 8))  # takes two slabs from object 1
    states.append(snapshot(store))
    with store.step("reset_object"):
        store.clear_active()
    states.append(snapshot(store))

    def same(a, b):
        return np.array_equal(a[0], b[0]) and a[1:] == b[1:]

    for expected in reversed(states[:-1]):
        change = store.undo()
        assert change is not None
        assert same(snapshot(store), expected)
        assert_counts_match(store)
    assert store.undo() is None
    for expected in states[1:]:
        assert store.redo() is not None
        assert same(snapshot(store), expected)
    assert store.redo() is None


def test_undo_reports_changed_regions_and_ids():
    store = ObjectStore(SHAPE, overlap="overwrite")
    write(store, block(0, 6))
    new_object(store)
    write(store, block(4, 8))
    change = store.undo()
    ((bbox, ids),) = change.regions
    assert bbox == [[4, 8], [0, 10], [0, 8]]
    assert ids == (1, 2)
    assert not change.objects_changed
    assert store.undo().objects_changed  # undoing new_object removes object 2
    assert list(store.objects) == [1] and store.active == 1


def test_a_new_step_clears_redo():
    store = ObjectStore(SHAPE)
    write(store, block(0, 2))
    store.undo()
    write(store, block(5, 6))
    assert store.redo() is None
    assert np.array_equal(store.mask(), block(5, 6))


def test_delete_is_undoable_and_keeps_an_active_object():
    store = ObjectStore(SHAPE)
    write(store, block(0, 3))
    with store.step("delete_object"):
        store.delete(1)
    assert list(store.objects) == [2] and store.active == 2  # a fresh object replaces the last
    assert not store.owner.any()
    store.undo()
    assert list(store.objects) == [1] and store.active == 1
    assert np.array_equal(store.mask(), block(0, 3))
    assert_counts_match(store)


def test_ids_are_never_reused_while_undo_could_bring_them_back():
    store = ObjectStore(SHAPE)
    new_object(store)
    with store.step("delete_object"):
        store.delete(2)
    assert new_object(store) == 3
    store.undo()
    store.undo()
    assert sorted(store.objects) == [1, 2]


def test_a_failing_step_changes_nothing():
    store = ObjectStore(SHAPE)
    write(store, block(0, 3))
    before = snapshot(store)
    with pytest.raises(ValueError, match="no object with id 9"):
        with store.step("delete_object"):
            store.clear_active()
            store.delete(9)
    after = snapshot(store)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]
    assert store.undo() is not None and not store.owner.any()  # only the earlier step remains


def test_changes_need_a_step_and_policies_are_checked():
    store = ObjectStore(SHAPE)
    with pytest.raises(RuntimeError, match="inside"):
        store.create()
    with pytest.raises(ValueError, match="lock, overwrite"):
        store.set_overlap("merge")
    with pytest.raises(ValueError, match="no object with id 4"):
        store.select(4)


def test_undo_depth_is_bounded():
    store = ObjectStore(SHAPE, max_undo=3)
    for x in range(6):
        write(store, block(x, x + 1))
    undone = 0
    while store.undo() is not None:
        undone += 1
    assert undone == 3
    assert np.array_equal(store.mask(), block(2, 3))


def _worked_store() -> ObjectStore:
    store = ObjectStore(SHAPE, overlap="overwrite")
    write(store, block(0, 6))
    new_object(store, "kidney", class_id=7)
    write(store, block(4, 9, 2, 8))
    new_object(store)
    with store.step("select"):
        store.select(1)
    return store


def test_export_and_load_round_trip_masks_ids_names_colours_and_settings():
    store = _worked_store()
    owner, table = store.export()
    json.dumps(table)  # the table is plain JSON
    assert owner is not store.owner and np.array_equal(owner, store.owner)
    loaded = ObjectStore(SHAPE)
    loaded.load(owner, json.loads(json.dumps(table)))
    assert np.array_equal(loaded.owner, store.owner)
    assert loaded.objects == store.objects  # ids, names, colours, class ids, visibility
    assert [info.name for info in loaded.objects.values()] == ["object 1", "kidney", "object 3"]
    assert loaded.objects[2].class_id == 7 and loaded.objects[2].color == store.objects[2].color
    assert (loaded.active, loaded.overlap) == (1, "overwrite")
    assert loaded.voxels == store.voxels
    assert_counts_match(loaded)
    for object_id in store.objects:
        assert np.array_equal(loaded.mask(object_id), store.mask(object_id))
    assert loaded.export()[1] == table


def test_load_starts_an_empty_history_and_later_steps_undo_to_it():
    store = _worked_store()
    loaded = ObjectStore(SHAPE)
    write(loaded, block(10, 12))
    loaded.load(*store.export())
    assert loaded.undo() is None
    write(loaded, block(0, 2))
    loaded.undo()
    assert np.array_equal(loaded.owner, store.owner)
    assert new_object(loaded) == 4  # ids of loaded objects are not handed out again


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda owner, table: (owner[:-1], table), "shape"),
        (lambda owner, table: (owner.astype(np.int16), table), "uint8 or uint16"),
        (lambda owner, table: (owner, {**table, "active_object": 9}), "active object 9"),
        (lambda owner, table: (owner, {**table, "objects": table["objects"][:1]}), r"\[2\]"),
        (lambda owner, table: (owner, {**table, "objects": [{"id": 1}]}), "an object must be"),
        (lambda owner, table: (owner, {**table, "objects": [{"id": 0}]}), "an object must be"),
        (lambda owner, table: (owner, {**table, "overlap": "merge"}), "lock, overwrite"),
        (lambda owner, table: (owner, [1, 2]), "table must be a dict"),
    ],
)
def test_load_refuses_a_state_that_does_not_fit_and_changes_nothing(change, match):
    store = _worked_store()
    target = ObjectStore(SHAPE)
    write(target, block(10, 12))
    before = snapshot(target)
    with pytest.raises(ValueError, match=match):
        target.load(*change(*store.export()))
    after = snapshot(target)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:]


def test_undo_and_redo_are_exact_over_random_overlapping_writes():
    rng = np.random.default_rng(0)
    store = ObjectStore(SHAPE, overlap="overwrite")
    states = [store.owner.copy()]
    for _ in range(30):
        if rng.random() < 0.2 and len(store.objects) < 5:
            new_object(store)
        else:
            with store.step("select"):
                store.select(int(rng.choice(list(store.objects))))
        lo = rng.integers(0, [10, 8, 6])
        hi = lo + rng.integers(1, 6, size=3)
        bbox = [[int(a), int(min(b, s))] for a, b, s in zip(lo, hi, SHAPE, strict=True)]
        crop_shape = tuple(b - a for a, b in bbox)
        with store.step("prompt"):
            store.write_active(bbox, (rng.random(crop_shape) < 0.6).astype(np.uint8))
        states.append(store.owner.copy())
    for expected in reversed(states[:-1]):
        store.undo()
        store.undo()
        assert np.array_equal(store.owner, expected)
        assert_counts_match(store)
    for expected in states[1:]:
        store.redo()
        store.redo()
        assert np.array_equal(store.owner, expected)


def test_a_change_carries_each_changed_object_mask_as_the_browser_gets_it():
    store = ObjectStore(SHAPE, overlap="overwrite")
    write(store, block(0, 6))
    new_object(store)
    with store.step("prompt") as step:
        store.write_active(FULL, block(4, 8))
    change = store.change_of(step)
    ((bbox, masks),) = change.masks
    assert step.regions[0].after is masks  # encoded once, when written
    assert sorted(masks) == [1, 2]
    for object_id, data in masks.items():
        crop = store.owner[tuple(slice(lo, hi) for lo, hi in bbox)] == object_id
        assert np.array_equal(decode_mask(data, crop.shape), crop)
    undone = store.undo()
    for (bbox, masks), (_, ids) in zip(undone.masks, undone.regions, strict=True):
        assert tuple(sorted(masks)) == ids == (1, 2)
        crop = store.owner[tuple(slice(lo, hi) for lo, hi in bbox)]
        for object_id, data in masks.items():
            assert np.array_equal(decode_mask(data, crop.shape), crop == object_id)
