"""The simulated-user protocol on synthetic cases with known answers, using a fake session."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.evaluation import (
    ObjectResult,
    box_prompt,
    dice,
    evaluate_object,
    iter_objects,
    lasso_prompt,
    next_click,
    scribble_prompt,
    summarize,
)


def _cube(shape=(32, 32, 32), lo=8, hi=24) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[lo:hi, lo:hi, lo:hi] = True
    return mask


class GrowingSession:
    """A fake session: each positive prompt adds a ball of ``radius`` voxels around the prompt,
    clipped to the truth plus a one-voxel rim; negative clicks remove a ball of the same size."""

    def __init__(self, truth: np.ndarray, radius: float):
        self.truth, self.radius = truth, radius
        self.buffer: np.ndarray | None = None
        self.calls: list[tuple] = []
        self.grid = np.indices(truth.shape).transpose(1, 2, 3, 0)

    def set_image(self, image, image_properties=None):
        pass

    def set_target_buffer(self, buffer):
        self.buffer = buffer

    def reset_interactions(self):
        self.buffer[:] = 0
        self.calls.clear()

    def _ball(self, centre):
        return ((self.grid - np.asarray(centre)) ** 2).sum(-1) <= self.radius**2

    def add_point_interaction(self, coordinates, include_interaction):
        self.calls.append(("point", tuple(coordinates), include_interaction))
        ball = self._ball(coordinates)
        if include_interaction:
            self.buffer[ball & self.truth] = 1
        else:
            self.buffer[ball] = 0

    def add_bbox_interaction(self, bbox_coords, include_interaction):
        self.calls.append(("bbox", bbox_coords, include_interaction))
        self.buffer[self.truth] = 1

    def add_lasso_interaction(self, lasso_image, include_interaction):
        self.calls.append(("lasso", lasso_image.sum(), include_interaction))
        self.buffer[lasso_image > 0] = 1

    def add_scribble_interaction(self, scribble_image, include_interaction):
        self.calls.append(("scribble", scribble_image.sum(), include_interaction))
        self.buffer[scribble_image > 0] = 1


def _run(truth, radius, **kwargs) -> tuple[ObjectResult, GrowingSession]:
    session = GrowingSession(truth, radius)
    buffer = np.zeros(truth.shape, np.uint8)
    session.set_target_buffer(buffer)
    return evaluate_object(session, buffer, truth, **kwargs), session


def test_dice():
    a = _cube()
    assert dice(a, a) == 1.0
    assert dice(a, np.zeros_like(a)) == 0.0
    assert dice(np.zeros_like(a), np.zeros_like(a)) == 1.0
    b = a.copy()
    b[8:16] = False
    assert dice(b, a) == pytest.approx(2 * b.sum() / (a.sum() + b.sum()))


def test_next_click_in_a_miss_is_positive_at_its_centre():
    truth = _cube()
    prediction = truth.copy()
    prediction[8:24, 8:24, 16:24] = False  # the upper half along z is missed: 16 x 16 x 8
    point, positive = next_click(prediction, truth)
    assert positive
    assert point[2] in (19, 20) and 8 <= point[0] < 24 and truth[point] and not prediction[point]


def test_next_click_in_a_leak_is_negative():
    truth = _cube()
    prediction = truth.copy()
    prediction[24:30, 10:20, 10:20] = True  # false positive outside the cube
    prediction[8:10, 8:10, 8:10] = False  # a smaller miss
    point, positive = next_click(prediction, truth)
    assert not positive and point[0] in (26, 27) and not truth[point]


def test_next_click_none_when_perfect():
    truth = _cube()
    assert next_click(truth, truth) is None


def test_noc_and_dice_after():
    result = ObjectResult("point", dice=[0.5, 0.82, 0.86, 0.91])
    assert result.noc(0.80) == 2 and result.noc(0.85) == 3 and result.noc(0.90) == 4
    assert result.noc(0.95) == 20
    assert result.dice_after(1) == 0.5 and result.dice_after(10) == 0.91


def test_point_protocol_converges_and_records_each_click():
    truth = _cube()
    result, session = _run(truth, radius=6, stop_at=0.9)
    assert session.calls[0] == ("point", (15, 15, 15), True) or session.calls[0][1] == (16, 16, 16)
    assert all(call[0] == "point" for call in session.calls)
    assert len(result.dice) == len(session.calls)
    assert result.dice[-1] >= 0.9
    assert all(b >= a for a, b in zip(result.dice, result.dice[1:], strict=False))
    assert 1 < result.noc(0.9) < 20


def test_budget_caps_the_run():
    truth = _cube()
    result, session = _run(truth, radius=1, max_interactions=5)
    assert len(result.dice) == 5 and len(session.calls) == 5
    assert result.noc(0.9) == 20


def test_min_interactions_keeps_going_after_the_threshold():
    truth = _cube()
    result, _ = _run(truth, radius=30, stop_at=0.9, min_interactions=3)
    assert result.dice[0] == 1.0 and len(result.dice) == 1  # perfect: no error left to click


def test_negative_clicks_fix_a_leak():
    truth = _cube()

    class LeakySession(GrowingSession):
        def add_point_interaction(self, coordinates, include_interaction):
            if not self.calls:  # the first click leaks into a slab next to the cube
                self.buffer[self.truth] = 1
                self.buffer[24:28, 8:24, 8:24] = 1
                self.calls.append(("point", tuple(coordinates), include_interaction))
                return
            super().add_point_interaction(coordinates, include_interaction)

    session = LeakySession(truth, radius=6)
    buffer = np.zeros(truth.shape, np.uint8)
    session.set_target_buffer(buffer)
    result = evaluate_object(session, buffer, truth, stop_at=0.99)
    assert session.calls[1][2] is False and session.calls[1][1][0] in (25, 26)
    assert result.dice[1] > result.dice[0]


@pytest.mark.parametrize("kind", ["box", "lasso", "scribble"])
def test_first_prompts_on_the_largest_slice(kind):
    truth = np.zeros((32, 32, 32), bool)
    truth[10:20, 6:26, 12:16] = True  # largest slices are across axis 0 (20 x 4 = 80 ... ) or 1
    result, session = _run(truth, radius=3, first_prompt=kind, max_interactions=1)
    assert session.calls[0][0] == ("bbox" if kind == "box" else kind)
    assert len(result.dice) == 1


def test_box_prompt_is_two_dimensional_and_tight():
    truth = np.zeros((32, 32, 32), bool)
    truth[10:20, 6:26, 12:18] = True
    box = box_prompt(truth, axis=2)
    assert box == [[10, 20], [6, 26], [12, 13]]
    assert sorted(hi - lo for lo, hi in box_prompt(truth))[0] == 1


def test_lasso_and_scribble_prompts_lie_on_one_slice():
    truth = _cube()
    for prompt in (lasso_prompt(truth, axis=2), scribble_prompt(truth, axis=2)):
        assert prompt.dtype == np.uint8 and prompt.any()
        assert len(np.unique(np.nonzero(prompt)[2])) == 1
    lasso = lasso_prompt(truth, axis=2).astype(bool)
    assert (lasso & truth).sum() >= 0.97 * truth[:, :, 8].sum()
    assert not (scribble_prompt(truth, axis=2).astype(bool) & ~truth).any()


def test_iter_objects_splits_components_and_filters_small():
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[0:10, 0:10, 0:10] = 2
    labels[12:20, 12:20, 12:20] = 2
    labels[0:2, 15:17, 15:17] = 3
    objects = list(iter_objects(labels, [2, 3], min_voxels=100))
    assert [label for label, _ in objects] == [2, 2]
    assert sorted(mask.sum() for _, mask in objects) == [512, 1000]


def test_summarize():
    results = [ObjectResult("point", [0.5, 0.9, 0.95]), ObjectResult("point", [0.9])]
    summary = summarize(results)
    assert summary["dice@1"] == pytest.approx(0.7)
    assert summary["dice@3"] == pytest.approx(0.925)
    assert summary["noc@90"] == pytest.approx(1.5)
