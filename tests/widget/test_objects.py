"""The object store: overlap policies, aggregation, voxel counts and undo/redo across objects."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.widget.objects import ObjectStore

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
