"""A sparse ObjectStore (lazy images) behaves exactly as the dense one, ids above 255 included."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.annotation.objects import ObjectStore
from nni_jupyter.volumes import SparseVolume

SHAPE = (40, 30, 20)


def step(store: ObjectStore, rng: np.random.Generator, action: str) -> None:
    """One action on ``store``, its randomness drawn from ``rng`` (same draws for both stores)."""
    if action in ("undo", "redo"):
        getattr(store, action)()
        return
    if action == "overlap":
        store.set_overlap(str(rng.choice(["lock", "overwrite"])))
        return
    with store.step(action):
        if action == "create":
            store.create()
        elif action == "select":
            store.select(int(rng.choice(sorted(store.objects))))
        elif action == "delete":
            store.delete(int(rng.choice(sorted(store.objects))))
        elif action == "clear":
            store.clear_active()
        else:
            lows = [int(rng.integers(0, s - 2)) for s in SHAPE]
            box = [
                [lo, int(rng.integers(lo + 1, min(s, lo + 25)))]
                for lo, s in zip(lows, SHAPE, strict=True)
            ]
            shape = [hi - lo for lo, hi in box]
            store.write_active(box, (rng.random(shape) < 0.7).astype(np.uint8))


def assert_same(dense: ObjectStore, sparse: ObjectStore) -> None:
    assert isinstance(sparse.owner, SparseVolume) and isinstance(dense.owner, np.ndarray)
    assert np.array_equal(np.asarray(sparse.owner), dense.owner)
    assert sparse.owner.dtype == dense.owner.dtype
    assert sparse.objects == dense.objects and sparse.active == dense.active
    assert sparse.voxels == dense.voxels
    for object_id in dense.objects:
        assert sparse.object_bbox(object_id) == dense.object_bbox(object_id)


def test_a_random_sequence_gives_the_same_state_on_both_stores():
    dense, sparse = ObjectStore(SHAPE), ObjectStore(SHAPE, sparse=True)
    actions = ["write"] * 6 + ["create", "select", "delete", "clear", "undo", "redo", "overlap"]
    plan = np.random.default_rng(1).choice(actions, 120)
    draws = [np.random.default_rng(7), np.random.default_rng(7)]
    for action in plan:
        for store, rng in zip((dense, sparse), draws, strict=True):
            step(store, rng, str(action))
        assert_same(dense, sparse)
    assert len(dense.objects) > 1 and dense.owner.any(), "the sequence left nothing: a weak test"
    for mode in ("instance", "semantic"):
        view = sparse.aggregate(mode)
        assert isinstance(view, SparseVolume) and view.read_only
        assert np.array_equal(np.asarray(view), dense.aggregate(mode))
    separate = sparse.aggregate("separate")
    assert isinstance(separate, dict)
    for object_id, mask in separate.items():
        assert np.array_equal(np.asarray(mask), dense.mask(object_id))


def test_export_and_load_round_trip_through_a_sparse_store():
    dense, sparse = ObjectStore(SHAPE), ObjectStore(SHAPE, sparse=True)
    draws = [np.random.default_rng(3), np.random.default_rng(3)]
    for action in ["write", "create", "write", "write"]:
        for store, rng in zip((dense, sparse), draws, strict=True):
            step(store, rng, action)
    assert_same(dense, sparse)
    owner, table = dense.export()
    restored = ObjectStore(SHAPE, sparse=True)
    restored.load(owner, table)  # a dense file into a sparse store
    assert_same(dense, restored)
    sparse_owner, sparse_table = restored.export()
    assert isinstance(sparse_owner, SparseVolume)
    again = ObjectStore(SHAPE, sparse=True)
    again.load(sparse_owner, sparse_table)
    assert_same(dense, again)
    bad = sparse_owner.copy()
    bad[0, 0, 0] = 99
    with pytest.raises(ValueError, match=r"label values without an object \[99\]"):
        ObjectStore(SHAPE, sparse=True).load(bad, sparse_table)


def test_an_id_above_255_widens_the_sparse_store():
    store = ObjectStore((8, 8, 8), sparse=True)
    with store.step("prompt"):
        store.write_active([[4, 6], [4, 6], [4, 6]], np.ones((2, 2, 2), np.uint8))
    for _ in range(255):
        with store.step("new_object"):
            store.create()
    assert store.active == 256 and store.owner.dtype == np.uint16
    assert isinstance(store.owner, SparseVolume)
    with store.step("prompt"):
        store.write_active([[0, 2], [0, 2], [0, 2]], np.ones((2, 2, 2), np.uint8))
    labels = store.instance_map()
    assert labels[0, 0, 0] == 256 and labels[5, 5, 5] == 1
    assert labels.counts() == {0: 512 - 16, 1: 8, 256: 8}
    assert store.aggregate("semantic")[0, 0, 0] == 256
    assert store.undo() is not None and store.mask(256).counts() == {0: 512}
    assert store.redo() is not None and store.mask(256).counts()[1] == 8
