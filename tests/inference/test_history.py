"""Multi-level undo and redo, storing only changed voxels, within bounds."""

from __future__ import annotations

import numpy as np
import torch

from nni_jupyter.inference.history import History, diff_region


def _snapshot(session) -> tuple[np.ndarray, list[np.ndarray], float]:
    store = session._state.store
    whole = [[0, s] for s in store.spatial_shape]
    channels = [store.read(c, whole).numpy().copy() for c in range(store.num_channels)]
    return session.target_buffer.copy(), channels, session._decay.intensity


def _assert_same(a, b) -> None:
    assert np.array_equal(a[0], b[0])
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1], strict=True))
    assert a[2] == b[2]


def test_diff_region_keeps_only_changed_voxels() -> None:
    before = torch.zeros(4, 5, 6, dtype=torch.uint8)
    after = before.clone()
    after[1, 2, 3] = 1
    after[3, 4, 5] = 1
    diff = diff_region("target", None, [[0, 4], [0, 5], [0, 6]], before, after)
    assert diff.index.numel() == 2 and diff.after.tolist() == [1, 1]
    assert diff_region("target", None, [[0, 4], [0, 5], [0, 6]], before, before) is None


def test_undo_redo_25_levels(session) -> None:
    rng = np.random.default_rng(3)
    states = [_snapshot(session)]
    for step in range(25):
        point = [int(rng.integers(0, s)) for s in session._image.spatial_shape]
        session.add_point_interaction(point, include_interaction=bool(step % 3))
        states.append(_snapshot(session))
    assert session.history.undo_depth == 25
    for expected in reversed(states[:-1]):
        assert session.undo()
        _assert_same(_snapshot(session), expected)
    assert not session.undo()
    for expected in states[1:]:
        assert session.redo()
        _assert_same(_snapshot(session), expected)
    assert not session.redo()


def test_new_prompt_after_undo_drops_redo(session) -> None:
    session.add_point_interaction((24, 28, 20), True)
    session.add_point_interaction((10, 10, 10), False)
    assert session.undo()
    session.add_bbox_interaction([[15, 30], [20, 35], [20, 21]], True)
    assert not session.redo()
    assert session.history.undo_depth == 2


def test_history_bounded_in_steps_and_bytes(session) -> None:
    session.history.max_steps = 5
    for step in range(8):
        session.add_point_interaction((24, 28, 5 + 4 * step), True)
    assert session.history.undo_depth == 5
    session.history.max_bytes = 1
    session.add_point_interaction((24, 28, 20), False)
    assert session.history.undo_depth == 1


def test_history_memory_is_proportional_to_the_change(session) -> None:
    session.add_point_interaction((24, 28, 20), True, run_prediction=False)
    # only the 9^3 point stamp changed: int32 index + float16 before/after per voxel
    assert session.history.nbytes <= 9**3 * (4 + 2 + 2)
    session.history.clear()
    session.add_point_interaction((24, 28, 20), True)
    changed = int(session.target_buffer.sum())  # target started all zero
    # per changed voxel: target (index + 2 x uint8) and previous segmentation (index + 2 x fp16)
    assert 0 < session.history.nbytes <= changed * (6 + 8) + 9**3 * 8


def test_history_rejects_zero_steps() -> None:
    try:
        History(max_steps=0)
    except ValueError as error:
        assert "max_steps" in str(error)
    else:
        raise AssertionError("History(max_steps=0) must fail")
