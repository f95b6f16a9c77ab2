"""Fuzz the Segmenter's message handler with hostile and broken browser messages.

Every message is a valid template with one or more mutations (a key dropped, a value replaced by a
hostile one: wrong type, NaN, infinities, huge or negative numbers, 10**6 vertices), or a random
JSON value. Property: nothing escapes ``_on_message``; a rejected message gets exactly one
``error`` reply carrying its request id (or null) and changes nothing: labels, objects, the active
object and the prompts record are as before. Run with ``-s`` to see how many cases were tried.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nni_jupyter.annotation.prompts import MAX_VERTICES

pytestmark = pytest.mark.filterwarnings("ignore:nni_jupyter. a browser request failed")

MILLION_VERTICES = [[1.0, 1.0]] * 1_000_000
HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([-1, 2**31, 2**63, 10**30, math.nan, math.inf, -math.inf, "", "0", 1.5]),
)
JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
HOSTILE_VALUES = st.one_of(
    JSON,
    st.just(MILLION_VERTICES),
    st.just([[math.nan, 1.0]]),
    st.just([[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308]]),
    st.lists(st.lists(HOSTILE_SCALARS, max_size=3), max_size=4),
)
TEMPLATES = [
    {"type": "get_slice", "axis": 2, "index": 3},
    {"type": "get_slice", "axis": 2, "index": 3, "count": 4, "step": -1},
    {"type": "get_slice", "axis": 2, "index": 3, "stride": 2, "region": [[4, 30], [2, 20]]},
    {"type": "get_slice", "axis": 0, "index": 9, "stride": 1, "region": [[0, 36], [5, 6]]},
    {"type": "get_slice", "axis": 1, "index": 5, "stride": 3, "count": 2},
    {"type": "get_labels"},
    {"type": "prompt", "tool": "point", "positive": True, "axis": 2, "index": 5,
     "vertices": [[10.0, 12.0]]},
    {"type": "prompt", "tool": "box", "positive": True, "axis": 0, "index": 20,
     "vertices": [[4.0, 4.0], [12.0, 14.0]]},
    {"type": "prompt", "tool": "scribble", "positive": False, "axis": 1, "index": 7,
     "vertices": [[3.0, 3.0], [9.0, 9.0]]},
    {"type": "prompt", "tool": "lasso", "positive": True, "axis": 2, "index": 16,
     "vertices": [[2.0, 2.0], [10.0, 2.0], [6.0, 9.0]]},
    {"type": "prompt", "tool": "paint", "positive": True, "axis": 2, "index": 16,
     "vertices": [[3.0, 3.0], [9.0, 9.0]], "radius": [2.0, 2.0], "object": 1},
    {"type": "prompt", "tool": "erase", "positive": True, "axis": 0, "index": 20,
     "vertices": [[4.0, 4.0]], "radius": [1.5, 3.0], "object": 1},
    {"type": "prompt", "tool": "fill", "positive": True, "axis": 1, "index": 7,
     "vertices": [[6.0, 6.0]], "object": 1},
    {"type": "command", "name": "undo"},
    {"type": "command", "name": "select_object", "object": 1},
    {"type": "command", "name": "delete_object", "object": 1},
    {"type": "command", "name": "new_object", "object_name": "x", "class_id": 3},
    {"type": "command", "name": "remove_prompt", "object": 1, "index": 0, "sequence": 0},
]  # fmt: skip


@st.composite
def hostile_messages(draw: st.DrawFn) -> object:
    """A broken message: a template with mutations, or a random JSON value."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    message = dict(draw(st.sampled_from(TEMPLATES)))
    message["request_id"] = draw(st.integers(0, 10**6))
    keys = sorted(message)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            message.pop(key, None)
        else:
            message[key] = draw(HOSTILE_VALUES)
    if draw(st.booleans()):
        message[draw(st.text(max_size=6))] = draw(JSON)  # extra keys are ignored
    return message


def _state(seg) -> tuple:
    return (
        seg.labels.tobytes(),
        repr(seg.objects),
        seg.active_object,
        len(seg.prompts),
        seg.labels_version,
    )


def _expected_request_id(message: object) -> int | None:
    rid = message.get("request_id") if isinstance(message, dict) else None
    ok = isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0
    return rid if ok else None


def _send(seg, message: object, buffers: list) -> list[dict]:
    seg.sent.clear()
    seg._on_message(seg, message, buffers)  # raises -> the test fails: it escaped the handler
    assert seg.wait(timeout=60)
    return [content for content, _ in seg.sent]


def test_hostile_messages_are_answered_with_errors_and_change_nothing(make_segmenter) -> None:
    seg = make_segmenter()
    tally: Counter = Counter()

    @settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(message=hostile_messages(), buffers=st.lists(st.binary(max_size=64), max_size=3))
    def check(message: object, buffers: list) -> None:
        before = _state(seg)
        replies = _send(seg, message, buffers)
        tally["tried"] += 1
        errors = [reply for reply in replies if reply["type"] == "error"]
        if errors:
            tally["rejected"] += 1
            assert len(errors) == 1 and errors[0]["message"]
            assert errors[0]["request_id"] == _expected_request_id(message)
            assert [r["type"] for r in replies] == ["error"]  # no patch, no done
            assert _state(seg) == before
            assert seg.error == errors[0]["message"]
        else:  # the mutation left a valid message: it must have been answered normally
            tally["accepted"] += 1
            # get_labels on empty labels is answered by labels_reset alone
            answers = ("slice", "done", "mask_patch", "labels_reset")
            assert replies and replies[-1]["type"] in answers

    check()
    print(f"\nhostile messages: {dict(tally)}")
    assert tally["tried"] >= 300 and tally["rejected"] > 0.7 * tally["tried"]


def test_named_hostile_messages(make_segmenter) -> None:
    """The cases the issue names, each tried explicitly (not left to chance)."""
    seg = make_segmenter()
    point = {"type": "prompt", "tool": "point", "positive": True, "axis": 2, "index": 5}
    cases = [
        None,
        [],
        "prompt",
        {},
        {"type": "prompt"},
        {"type": "prompt", "request_id": -1},
        {"type": "prompt", "request_id": True},
        {**point, "request_id": 1, "vertices": [[math.nan, 1.0]]},
        {**point, "request_id": 2, "vertices": [[math.inf, 1.0]]},
        {**point, "request_id": 3, "vertices": [[10**30, 1.0]]},
        {**point, "request_id": 4, "vertices": [[-5.0, -5.0]]},
        {**point, "request_id": 5, "vertices": "1,2"},
        {**point, "request_id": 6, "vertices": [[1.0, 2.0]], "index": 10**12},
        {**point, "request_id": 7, "vertices": [[1.0, 2.0]], "index": -1},
        {**point, "request_id": 8, "vertices": [[1.0, 2.0]], "axis": 3},
        {**point, "request_id": 9, "tool": "lasso", "vertices": MILLION_VERTICES},
        {**point, "request_id": 10, "tool": "scribble", "vertices": [[1.0, 2.0]] * MAX_VERTICES
         + [[1.0]]},
        {"type": "command", "name": "select_object", "object": 10**9, "request_id": 11},
        {"type": "command", "name": "select_object", "object": 200, "request_id": 12},
        {"type": "command", "name": "delete_object", "object": 7, "request_id": 13},
        {"type": "command", "name": "new_object", "class_id": -3, "request_id": 14},
        {"type": "command", "name": "exec", "request_id": 15},
        {"type": "get_slice", "axis": 0, "index": 40, "request_id": 16},
        {"type": "get_slice", "axis": 0, "index": 38, "count": 3, "request_id": 19},
        {"type": "get_slice", "axis": 0, "index": 0, "count": 10**9, "request_id": 20},
        {"type": "get_slice", "axis": 2, "index": 0, "stride": 10**30, "request_id": 21},
        {"type": "get_slice", "axis": 2, "index": 0, "stride": 0, "request_id": 22},
        {"type": "get_slice", "axis": 2, "index": 0, "region": [[0, 10**30], [0, 5]],
         "request_id": 23},
        {"type": "get_slice", "axis": 2, "index": 0, "region": [[5, 5], [0, 5]],
         "request_id": 24},
        {"type": "get_slice", "axis": 2, "index": 0, "region": [[0, 5], [0, 5]], "count": 2,
         "request_id": 25},
        {"type": "get_slice", "axis": 2, "index": 0, "region": [[0, 5], [math.nan, 5]],
         "request_id": 26},
        {**point, "request_id": 17, "tool": "scribble",
         "vertices": [[-1e308, -1e308], [1e308, 1e308]]},
        {**point, "request_id": 18, "vertices": [[10**400, 1]]},
        # hand edits: radius 0, 1e9, NaN, missing; a million points; off the image; no object;
        # a deleted object; a radius on a gesture; a stroke that would cost minutes
        {**point, "request_id": 30, "tool": "paint", "vertices": [[5.0, 5.0]], "radius": [0, 0],
         "object": 1},
        {**point, "request_id": 31, "tool": "paint", "vertices": [[5.0, 5.0]],
         "radius": [1e9, 1e9], "object": 1},
        {**point, "request_id": 32, "tool": "erase", "vertices": [[5.0, 5.0]],
         "radius": [math.nan, 2], "object": 1},
        {**point, "request_id": 33, "tool": "erase", "vertices": [[5.0, 5.0]], "object": 1},
        {**point, "request_id": 34, "tool": "paint", "vertices": MILLION_VERTICES,
         "radius": [2, 2], "object": 1},
        {**point, "request_id": 35, "tool": "paint", "vertices": [[500.0, 500.0]],
         "radius": [2, 2], "object": 1},
        {**point, "request_id": 36, "tool": "paint", "vertices": [[5.0, 5.0]], "radius": [2, 2]},
        {**point, "request_id": 37, "tool": "paint", "vertices": [[5.0, 5.0]], "radius": [2, 2],
         "object": 7},
        {**point, "request_id": 38, "vertices": [[5.0, 5.0]], "radius": [2, 2]},
        {**point, "request_id": 39, "tool": "fill", "vertices": [[5.0, 5.0], [6.0, 6.0]],
         "object": 1},
        {**point, "request_id": 40, "tool": "paint", "positive": False, "vertices": [[5.0, 5.0]],
         "radius": [2, 2], "object": 1},
        {**point, "request_id": 41, "tool": "paint", "vertices": [[0.0, 0.0], [40.0, 36.0]] * 20000,
         "radius": [512, 512], "object": 1},
        {**point, "request_id": 42, "tool": "dilate", "vertices": [[5.0, 5.0]], "object": 1},
    ]  # fmt: skip
    before = _state(seg)
    for message in cases:
        replies = _send(seg, message, [np.zeros(8, np.uint8).tobytes()])
        assert [r["type"] for r in replies] == ["error"], message if len(str(message)) < 200 else ""
        assert replies[0]["request_id"] == _expected_request_id(message)
        assert _state(seg) == before
    print(f"\nnamed hostile messages: {len(cases)} tried, all rejected")


def test_stale_or_hostile_remove_prompt_is_answered_and_changes_nothing(make_segmenter) -> None:
    seg = make_segmenter()
    seg.add_point((20, 18, 16))
    seg.add_point((12, 10, 16), positive=False)
    [first, second] = seg.prompt_list
    remove = {"type": "command", "name": "remove_prompt", "object": 1}
    cases = {
        "the prompt list changed": {**remove, "index": 0, "sequence": second["sequence"]},
        "object 1 has 2 prompts; got index 2": {**remove, "index": 2, "sequence": 0},
        "no object with id 300": {**remove, "object": 300, "index": 0, "sequence": 0},
        "integers >= 0": {**remove, "index": -1, "sequence": 0},
        "missing 'sequence'": {**remove, "index": 0},
        "within": {**remove, "index": 2**40, "sequence": 0},
    }
    before = _state(seg)
    for request_id, (problem, message) in enumerate(cases.items()):
        replies = _send(seg, {**message, "request_id": request_id}, [])
        assert [r["type"] for r in replies] == ["error"] and problem in replies[0]["message"]
        assert replies[0]["request_id"] == request_id
        assert _state(seg) == before and seg.prompt_list == [first, second]
    # the same command with the row's current index and sequence removes it
    replies = _send(
        seg, {**remove, "index": 0, "sequence": first["sequence"], "request_id": 99}, []
    )
    assert replies[-1]["type"] == "done" and replies[-1]["request_id"] == 99
    assert [row["sequence"] for row in seg.prompt_list] == [second["sequence"]]
    assert seg.prompt_list[0]["index"] == 0 and seg.prompt_list[0]["positive"] is False
