"""The wire messages of PROTOCOL.md: browser -> kernel parsed and checked, kernel -> browser built.

Everything a browser sends is untrusted: :func:`parse_message` either returns a request or raises
:class:`MessageError` (a ValueError) whose text says what was wrong and what was expected, and which
carries the message's ``request_id`` when it had a valid one, for the ``error`` reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from ..annotation.codec import ENCODING
from ..annotation.prompts import (
    BROWSER_COMMANDS,
    BRUSH_EDITS,
    GESTURE_TOOLS,
    SLICE_EDITS,
    Command,
    Prompt,
)
from ..core.regions import Bbox

MESSAGE_TYPES = ("get_slice", "get_labels", "prompt", "command")


class MessageError(ValueError):
    """A rejected browser message; ``request_id`` is None when the message had no valid one."""

    def __init__(self, message: str, request_id: int | None = None):
        super().__init__(message)
        self.request_id = request_id


#: Most slices one ``get_slice`` may ask for (``count``).
MAX_SLICES_PER_REQUEST = 32


#: An in-plane region ``((u0, u1), (v0, v1))``: half-open, full-resolution voxel coordinates.
PlaneRegion = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class SliceRequest:
    """``get_slice``: ``count`` slices along ``axis`` from ``index``, ``step`` (+1 or -1) apart.

    ``stride`` and ``region`` (None when not asked) are a zoomed view's refinement: every
    ``stride``-th voxel of ``region`` of one slice.
    """

    axis: int
    index: int
    request_id: int
    count: int = 1
    step: int = 1
    stride: int | None = None
    region: PlaneRegion | None = None

    @property
    def indices(self) -> range:
        """The slice indices, in the order they are sent."""
        return range(self.index, self.index + self.count * self.step, self.step)


@dataclass(frozen=True)
class LabelsRequest:
    """``get_labels``: the full label state."""

    request_id: int


@dataclass(frozen=True)
class ItemRequest:
    """``prompt`` or ``command``: an item for the worker."""

    item: Prompt | Command
    request_id: int


Request = SliceRequest | LabelsRequest | ItemRequest


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(content: dict[str, Any], key: str, request_id: int | None) -> Any:
    if key not in content:
        raise MessageError(f"{content.get('type')} message is missing {key!r}", request_id)
    return content[key]


def _axis_index(
    content: dict[str, Any], shape: tuple[int, ...], request_id: int
) -> tuple[int, int]:
    axis = _require(content, "axis", request_id)
    if not _is_int(axis) or axis not in (0, 1, 2):
        raise MessageError(f"axis must be 0, 1 or 2; got {axis!r}", request_id)
    index = _require(content, "index", request_id)
    if not _is_int(index) or not 0 <= index < shape[axis]:
        raise MessageError(
            f"index must be an integer in 0..{shape[axis] - 1} for axis {axis}; got {index!r}",
            request_id,
        )
    return axis, index


def parse_message(content: Any, shape: tuple[int, int, int]) -> Request:
    """Validate a browser message for an image of spatial ``shape`` and return its request.

    Raises
    ------
    MessageError
        On any malformed message: not a dict, unknown type, missing keys, wrong types, out-of-range
        values, non-finite numbers, or a prompt whose geometry is invalid.
    """
    if not isinstance(content, dict):
        raise MessageError(f"a message must be a JSON object; got {type(content).__name__}")
    request_id = content.get("request_id")
    if not _is_int(request_id) or request_id < 0:
        raise MessageError(f"request_id must be an integer >= 0; got {request_id!r}")
    kind = content.get("type")
    if kind not in MESSAGE_TYPES:
        raise MessageError(
            f"type must be one of {', '.join(MESSAGE_TYPES)}; got {kind!r}", request_id
        )
    if kind == "get_labels":
        return LabelsRequest(request_id)
    if kind == "get_slice":
        return _slice_request(content, shape, request_id)
    if kind == "prompt":
        return ItemRequest(_prompt(content, shape, request_id), request_id)
    return ItemRequest(_command(content, request_id), request_id)


def _slice_request(
    content: dict[str, Any], shape: tuple[int, ...], request_id: int
) -> SliceRequest:
    axis, index = _axis_index(content, shape, request_id)
    count = content.get("count", 1)
    if not _is_int(count) or not 1 <= count <= MAX_SLICES_PER_REQUEST:
        raise MessageError(
            f"count must be an integer in 1..{MAX_SLICES_PER_REQUEST}; got {count!r}", request_id
        )
    step = content.get("step", 1)
    if not _is_int(step) or step not in (1, -1):
        raise MessageError(f"step must be 1 or -1; got {step!r}", request_id)
    last = index + (count - 1) * step
    if not 0 <= last < shape[axis]:
        raise MessageError(
            f"slices {index}..{last} run outside axis {axis} (0..{shape[axis] - 1}); "
            "ask for fewer (count)",
            request_id,
        )
    plane = [n for a, n in enumerate(shape) if a != axis]
    stride = _stride(content, plane, request_id)
    region = _region(content, plane, request_id)
    if region is not None and count != 1:
        raise MessageError(
            f"a get_slice with a region asks for one slice; got count {count}", request_id
        )
    return SliceRequest(axis, index, request_id, count, step, stride, region)


def _stride(content: dict[str, Any], plane: list[int], request_id: int) -> int | None:
    if "stride" not in content:
        return None
    stride = content["stride"]
    if not _is_int(stride) or not 1 <= stride <= max(plane):
        raise MessageError(
            f"stride must be an integer in 1..{max(plane)} (the plane's longest side); "
            f"got {stride!r}",
            request_id,
        )
    return stride


def _region(content: dict[str, Any], plane: list[int], request_id: int) -> PlaneRegion | None:
    if "region" not in content:
        return None
    region = content["region"]
    expected = (
        f"region must be [[u0, u1], [v0, v1]]: integers with 0 <= lo < hi <= the plane's "
        f"size {plane}; got {str(region)[:80]}"
    )
    if not (isinstance(region, list) and len(region) == 2):
        raise MessageError(expected, request_id)
    pairs = []
    for pair, size in zip(region, plane, strict=True):
        if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_int, pair))):
            raise MessageError(expected, request_id)
        lo, hi = pair
        if not 0 <= lo < hi <= size:
            raise MessageError(expected, request_id)
        pairs.append((lo, hi))
    return pairs[0], pairs[1]


#: Tools a ``prompt`` message may name: the gestures and the edits drawn on a slice.
BROWSER_TOOLS = (*GESTURE_TOOLS, *SLICE_EDITS)


def _prompt(content: dict[str, Any], shape: tuple[int, ...], request_id: int) -> Prompt:
    tool = _require(content, "tool", request_id)
    if tool not in BROWSER_TOOLS:
        raise MessageError(
            f"tool must be one of {', '.join(BROWSER_TOOLS)}; got {tool!r}", request_id
        )
    positive = _require(content, "positive", request_id)
    if not isinstance(positive, bool):
        raise MessageError(f"positive must be true or false; got {positive!r}", request_id)
    axis, index = _axis_index(content, shape, request_id)
    vertices = _require(content, "vertices", request_id)
    if not isinstance(vertices, list):
        raise MessageError(f"vertices must be a list of [p, q] pairs; got {vertices!r}", request_id)
    edit = _edit_fields(content, tool, request_id)
    try:
        return Prompt(tool, positive, axis=axis, index=index, vertices=tuple(vertices), **edit)
    except ValueError as exc:
        raise MessageError(str(exc), request_id) from exc


def _edit_fields(content: dict[str, Any], tool: str, request_id: int) -> dict[str, Any]:
    """An edit's ``radius`` (``[rp, rq]`` voxels; paint and erase) and ``object`` (the object
    the browser showed active; every edit); a gesture may carry neither."""
    fields: dict[str, Any] = {}
    if tool not in SLICE_EDITS:
        extra = [key for key in ("radius", "object") if key in content]
        if extra:
            raise MessageError(f"a {tool} prompt takes no {' or '.join(extra)}", request_id)
        return fields
    fields["object"] = _require(content, "object", request_id)
    if tool in BRUSH_EDITS:
        radius = _require(content, "radius", request_id)
        if not (isinstance(radius, list) and len(radius) == 2):
            raise MessageError(
                f"radius must be [rp, rq] in voxels; got {str(radius)[:80]}", request_id
            )
        fields["radius"] = tuple(radius)
    return fields


def _command(content: dict[str, Any], request_id: int) -> Command:
    name = _require(content, "name", request_id)
    if name not in BROWSER_COMMANDS:
        raise MessageError(
            f"command name must be one of {', '.join(BROWSER_COMMANDS)}; got {name!r}", request_id
        )
    fields: dict[str, Any] = {}
    if name in ("select_object", "delete_object"):
        fields["object"] = _require(content, "object", request_id)
    if name == "new_object":
        fields["object_name"] = content.get("object_name")
        fields["class_id"] = content.get("class_id")
    if name == "remove_prompt":
        # the browser names the prompt by its row and its record place, so a stale list is refused
        for key in ("object", "index", "sequence"):
            fields[key] = _require(content, key, request_id)
        if not all(_is_int(fields[key]) and fields[key] >= 0 for key in ("index", "sequence")):
            raise MessageError(
                "remove_prompt needs index and sequence as integers >= 0; got "
                f"{fields['index']!r} and {fields['sequence']!r}",
                request_id,
            )
    try:
        return Command(name, **fields)
    except ValueError as exc:
        raise MessageError(str(exc), request_id) from exc


# ---- kernel -> browser ----------------------------------------------------------------------


def slice_reply(
    request: SliceRequest,
    dtype: str,
    shape: list[int],
    encoding: str,
    stride: int = 1,
    region: PlaneRegion | None = None,
) -> dict[str, Any]:
    """``slice``: the answer to ``request``, one buffer per slice in ``request.indices`` order
    (the slice bytes, ``raw`` or ``deflate``; see :mod:`.codec`), every ``stride``-th voxel of
    the plane along both its axes; of ``region`` only (the region served) when one was asked."""
    reply: dict[str, Any] = {
        "type": "slice",
        "axis": request.axis,
        "index": request.index,
        "count": request.count,
        "step": request.step,
        "request_id": request.request_id,
        "dtype": dtype,
        "shape": shape,
        "encoding": encoding,
        "stride": stride,
    }
    if region is not None:
        reply["region"] = [list(region[0]), list(region[1])]
    return reply


def labels_reset(request_id: int | None) -> dict[str, Any]:
    """``labels_reset``: the browser clears its label volume; patches follow."""
    return {"type": "labels_reset", "request_id": request_id}


def mask_patch(object_id: int, bbox: Bbox, request_id: int | None) -> dict[str, Any]:
    """``mask_patch`` (its buffer: the ``packbits-deflate`` crop)."""
    return {
        "type": "mask_patch",
        "object": object_id,
        "bbox": bbox,
        "encoding": ENCODING,
        "request_id": request_id,
    }


def done(request_id: int | None, bbox: Bbox | None, compute_s: float) -> dict[str, Any]:
    """``done``: the prompt or command finished; ``compute_s`` is the session's time."""
    return {
        "type": "done",
        "request_id": request_id,
        "bbox": bbox,
        "compute_s": round(compute_s, 6),
    }


def error(request_id: int | None, message: str) -> dict[str, Any]:
    """``error``: the request was rejected or failed and changed nothing."""
    return {"type": "error", "request_id": request_id, "message": message}
