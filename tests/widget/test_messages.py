"""Browser messages: every good form parses to the right value, every bad one is a clear error."""

from __future__ import annotations

import math

import pytest

from nni_jupyter.annotation.prompts import Command, Prompt
from nni_jupyter.widget.messages import (
    ItemRequest,
    LabelsRequest,
    MessageError,
    SliceRequest,
    parse_message,
)

SHAPE = (40, 36, 32)


def prompt(**overrides):
    message = {
        "type": "prompt",
        "tool": "point",
        "positive": True,
        "axis": 2,
        "index": 5,
        "vertices": [[3.5, 4.0]],
        "request_id": 11,
    }
    message.update(overrides)
    return message


def test_get_slice_and_labels():
    assert parse_message(
        {"type": "get_slice", "axis": 1, "index": 35, "request_id": 0}, SHAPE
    ) == SliceRequest(1, 35, 0)
    assert parse_message({"type": "get_labels", "request_id": 4}, SHAPE) == LabelsRequest(4)


def test_get_slice_may_ask_for_a_run_of_slices():
    request = parse_message(
        {"type": "get_slice", "axis": 2, "index": 5, "request_id": 1, "count": 4, "step": -1},
        SHAPE,
    )
    assert request == SliceRequest(2, 5, 1, count=4, step=-1)
    assert isinstance(request, SliceRequest) and list(request.indices) == [5, 4, 3, 2]
    last = parse_message(
        {"type": "get_slice", "axis": 0, "index": 8, "request_id": 1, "count": 32}, SHAPE
    )
    assert isinstance(last, SliceRequest) and list(last.indices) == list(range(8, 40))


@pytest.mark.parametrize(
    ("tool", "vertices"),
    [
        ("point", [[1, 2]]),
        ("box", [[1, 2], [5.5, 7.25]]),
        ("scribble", [[1, 2]]),
        ("scribble", [[1, 2], [3, 4], [5, 6]]),
        ("lasso", [[1, 2], [3, 4], [5, 1]]),
    ],
)
def test_prompts_parse_to_prompt_values(tool, vertices):
    request = parse_message(prompt(tool=tool, vertices=vertices, positive=False), SHAPE)
    assert isinstance(request, ItemRequest)
    assert request.request_id == 11
    assert request.item == Prompt(
        tool, False, axis=2, index=5, vertices=tuple(tuple(float(c) for c in v) for v in vertices)
    )


def test_commands_parse():
    for name in ("undo", "redo", "reset_object", "new_object"):
        request = parse_message({"type": "command", "name": name, "request_id": 1}, SHAPE)
        assert request.item == Command(name)
    request = parse_message(
        {"type": "command", "name": "select_object", "object": 3, "request_id": 2}, SHAPE
    )
    assert request.item == Command("select_object", object=3)
    request = parse_message(
        {
            "type": "command",
            "name": "new_object",
            "object_name": "liver",
            "class_id": 2,
            "request_id": 2,
        },
        SHAPE,
    )
    assert request.item == Command("new_object", object_name="liver", class_id=2)


def test_unknown_extra_keys_are_ignored():
    request = parse_message(prompt(extra={"anything": 1}), SHAPE)
    assert request.item.tool == "point"


BAD_MESSAGES = [
    # (message, words the error must contain, request_id echoed)
    ([1, 2], "JSON object", None),
    ({"type": "get_labels"}, "request_id", None),
    ({"type": "get_labels", "request_id": "7"}, "request_id", None),
    ({"type": "get_labels", "request_id": True}, "request_id", None),
    ({"type": "get_labels", "request_id": -1}, "request_id", None),
    ({"type": "get_labels", "request_id": 1.5}, "request_id", None),
    ({"type": "explode", "request_id": 3}, "type must be one of", 3),
    ({"request_id": 3}, "type must be one of", 3),
    ({"type": "get_slice", "index": 0, "request_id": 3}, "missing 'axis'", 3),
    ({"type": "get_slice", "axis": 0, "request_id": 3}, "missing 'index'", 3),
    ({"type": "get_slice", "axis": 3, "index": 0, "request_id": 3}, "axis must be 0, 1 or 2", 3),
    ({"type": "get_slice", "axis": 1.0, "index": 0, "request_id": 3}, "axis", 3),
    ({"type": "get_slice", "axis": 0, "index": 40, "request_id": 3}, "0..39", 3),
    ({"type": "get_slice", "axis": 2, "index": -1, "request_id": 3}, "0..31", 3),
    ({"type": "get_slice", "axis": 2, "index": "1", "request_id": 3}, "index", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "count": 0}, "1..32", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "count": 33}, "1..32", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "count": 2.0}, "count", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "count": True}, "count", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "step": 2}, "step", 3),
    ({"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "step": None}, "step", 3),
    ({"type": "get_slice", "axis": 2, "index": 30, "request_id": 3, "count": 3}, "30..32", 3),
    (
        {"type": "get_slice", "axis": 2, "index": 1, "request_id": 3, "count": 3, "step": -1},
        "1..-1 run outside",
        3,
    ),
    (prompt(tool="brush"), "tool must be one of", 11),
    (prompt(positive="yes"), "positive must be true or false", 11),
    (prompt(positive=1), "positive must be true or false", 11),
    (prompt(axis=None), "axis", 11),
    (prompt(index=32), "0..31", 11),
    (prompt(vertices="1,2"), "list of [p, q] pairs", 11),
    (prompt(vertices=[]), "exactly 1 vertices", 11),
    (prompt(vertices=[[1, 2], [3, 4]]), "exactly 1 vertices", 11),
    (prompt(tool="box", vertices=[[1, 2]]), "exactly 2 vertices", 11),
    (prompt(tool="lasso", vertices=[[1, 2], [3, 4]]), "at least 3 vertices", 11),
    (prompt(tool="scribble", vertices=[]), "at least 1 vertices", 11),
    (prompt(vertices=[[1, 2, 3]]), "[p, q] pair", 11),
    (prompt(vertices=[[1, "2"]]), "must be a number", 11),
    (prompt(vertices=[[1, None]]), "must be a number", 11),
    (prompt(vertices=[[True, 2]]), "must be a number", 11),
    (prompt(vertices=[[math.nan, 2]]), "finite", 11),
    (prompt(vertices=[[1, math.inf]]), "finite", 11),
    (prompt(tool="scribble", vertices=[[0, 0]] * 100_001), "at most 100000", 11),
    ({"type": "prompt", "request_id": 11}, "missing 'tool'", 11),
    ({"type": "command", "request_id": 5}, "missing 'name'", 5),
    ({"type": "command", "name": "format_disk", "request_id": 5}, "command name", 5),
    ({"type": "command", "name": "set_overlap", "request_id": 5}, "command name", 5),
    ({"type": "command", "name": "select_object", "request_id": 5}, "missing 'object'", 5),
    ({"type": "command", "name": "select_object", "object": 0, "request_id": 5}, "1..65535", 5),
    ({"type": "command", "name": "delete_object", "object": 65536, "request_id": 5}, "1..65535", 5),
    ({"type": "command", "name": "delete_object", "object": "2", "request_id": 5}, "integer", 5),
    ({"type": "command", "name": "remove_prompt", "object": 1, "request_id": 5}, "'index'", 5),
    (
        {
            "type": "command",
            "name": "remove_prompt",
            "object": 1,
            "index": -1,
            "sequence": 0,
            "request_id": 5,
        },
        "integers >= 0",
        5,
    ),  # fmt: skip
    (
        {
            "type": "command",
            "name": "remove_prompt",
            "object": 1,
            "index": 0,
            "sequence": 2**40,
            "request_id": 5,
        },
        "sequence must be in",
        5,
    ),  # fmt: skip
    (
        {"type": "command", "name": "new_object", "class_id": -1, "request_id": 5},
        "class_id must be in",
        5,
    ),
    (
        {"type": "command", "name": "new_object", "object_name": 7, "request_id": 5},
        "object_name must be a string",
        5,
    ),
]


@pytest.mark.parametrize(("message", "words", "request_id"), BAD_MESSAGES)
def test_bad_messages_are_rejected_clearly(message, words, request_id):
    with pytest.raises(MessageError) as caught:
        parse_message(message, SHAPE)
    assert words in str(caught.value)
    assert caught.value.request_id == request_id
