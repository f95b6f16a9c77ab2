"""Bad input raises a clear error and leaves the session unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nni_jupyter.inference import nnInteractiveInferenceSession


def _state(session):
    store = session._state.store
    tiles = {k: v.clone() for k, v in store._tiles.items()}
    return session.target_buffer.copy(), tiles, session._decay.intensity, list(session._queue)


def _assert_unchanged(session, before) -> None:
    after = _state(session)
    assert np.array_equal(before[0], after[0])
    assert before[1].keys() == after[1].keys()
    assert all(torch.equal(before[1][k], after[1][k]) for k in before[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((8, 8, 8), np.float32), "4-D"),
        (np.ones((2, 8, 8, 8), np.float32), "channel"),
        (np.ones((1, 8, 8, 8), bool), "dtype"),
        (np.ones((1, 8, 8, 8), np.complex64), "dtype"),
        (np.zeros((1, 8, 8, 8), np.float32), "entirely zero"),
        (np.full((1, 8, 8, 8), np.nan, np.float32), "NaN or inf"),
        (
            np.pad(np.full((1, 4, 4, 4), np.inf, np.float32), ((0, 0), (2, 2), (2, 2), (2, 2))),
            "NaN",
        ),
    ],
)
def test_bad_images(model_folder, image, message) -> None:
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    session.initialize_from_trained_model_folder(model_folder)
    with pytest.raises(ValueError, match=message):
        session.set_image(image)


@pytest.mark.parametrize(
    ("image", "true", "false"),
    [
        # float64 values that exist but vanish in the float32 copy: not "entirely zero"
        (
            np.arange(1, 513, dtype=np.float64).reshape(1, 8, 8, 8) * 1e-297,
            r"tiny: the largest is 5\.12e-295.*below float32's smallest",
            "entirely zero",
        ),
        # uint64 values that differ near 2**64 by less than float32 resolves: not "constant"
        (
            (np.uint64(2**64 - 1) - np.arange(512, dtype=np.uint64)).reshape(1, 8, 8, 8),
            r"values differ \(from 18446744073709551104 to 18446744073709551615\).*float32",
            "constant over",
        ),
    ],
)
def test_values_lost_in_float32_are_named_as_such(model_folder, image, true, false) -> None:
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    session.initialize_from_trained_model_folder(model_folder)
    with pytest.raises(ValueError, match=true) as raised:
        session.set_image(image)
    assert false not in str(raised.value)
    with pytest.raises(ValueError, match="constant over its nonzero region"):
        session.set_image(np.full((1, 8, 8, 8), 7, np.uint64))  # truly constant: said so


def test_prompts_before_model_or_image() -> None:
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    with pytest.raises(RuntimeError, match="no model loaded"):
        session.add_point_interaction((1, 1, 1), True)


def test_prompt_before_image(model_folder) -> None:
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1)
    session.initialize_from_trained_model_folder(model_folder)
    with pytest.raises(RuntimeError, match="set_image"):
        session.add_bbox_interaction([[1, 5], [1, 5], [2, 3]], True)


def test_target_buffer_of_wrong_shape(session) -> None:
    with pytest.raises(ValueError, match="spatial shape"):
        session.set_target_buffer(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="3-D"):
        session.set_target_buffer(torch.zeros(1, 48, 56, 40))


def _cases(shape):
    full = np.zeros(shape, np.uint8)
    thick = full.copy()
    thick[10:12, 10:12, 10:12] = 1
    return [
        ("point outside", lambda s: s.add_point_interaction((48, 0, 0), True), "outside"),
        ("point nan", lambda s: s.add_point_interaction((np.nan, 0, 0), True), "finite"),
        ("point 2-D", lambda s: s.add_point_interaction((3, 4), True), "3 finite"),
        ("bbox zero", lambda s: s.add_bbox_interaction([[5, 5], [1, 9], [3, 4]], True), "zero"),
        ("bbox 3-D", lambda s: s.add_bbox_interaction([[1, 9], [1, 9], [3, 8]], True), "2-D boxes"),
        (
            "bbox outside",
            lambda s: s.add_bbox_interaction([[60, 70], [1, 9], [3, 4]], True),
            "overlap",
        ),
        ("scribble empty", lambda s: s.add_scribble_interaction(full, True), "empty"),
        (
            "scribble thick",
            lambda s: s.add_scribble_interaction(thick, True),
            "more than one slice",
        ),
        ("lasso shape", lambda s: s.add_lasso_interaction(full[:5], True), "spatial shape"),
        (
            "lasso crop shape",
            lambda s: s.add_lasso_interaction(
                np.ones((3, 3, 1)), True, interaction_bbox=[[0, 4], [0, 3], [5, 6]]
            ),
            "interaction_bbox size",
        ),
        (
            "crop outside",
            lambda s: s.add_scribble_interaction(
                np.ones((3, 3, 1)), True, interaction_bbox=[[46, 49], [0, 3], [5, 6]]
            ),
            "exceeds",
        ),
        (
            "initial seg shape",
            lambda s: s.add_initial_seg_interaction(full[:, :5]),
            "spatial shape",
        ),
    ]


def test_rejected_prompts_leave_state_unchanged(session) -> None:
    session.add_point_interaction((24, 28, 20), True)
    session.add_bbox_interaction([[15, 30], [20, 35], [20, 21]], False, run_prediction=False)
    before = _state(session)
    depth = session.history.undo_depth
    for name, call, message in _cases(session._image.spatial_shape):
        with pytest.raises(ValueError, match=message):
            call(session)
        _assert_unchanged(session, before)
        assert session.history.undo_depth == depth, name


def test_failure_during_prediction_rolls_back(session, monkeypatch) -> None:
    session.add_point_interaction((24, 28, 20), True)
    before = _state(session)

    def explode(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(session, "_predict", explode)
    with pytest.raises(RuntimeError, match="out of memory"):
        session.add_point_interaction((10, 10, 10), False)
    _assert_unchanged(session, before)
    assert session.history.undo_depth == 1
