"""The record of what ran: each item's stamp, and the prompts that still shape each object.

The annotator appends every prompt and command that succeeded to its record, with a
:class:`Stamp`. :func:`live_prompts` walks the record as the object store's undo stack does (one
undoable step per prompt, ``new_object``, ``reset_object``, ``delete_object`` and
``remove_prompt``), so the prompts it returns are exactly those behind the masks: undone, reset,
deleted and removed prompts are left out, and undoing a ``remove_prompt`` brings its prompt back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.gestures import plane_axes
from .prompts import EDIT_TOOLS, MAX_OBJECT_ID, OVERLAP_POLICIES, Command, Prompt, prompt_focus

#: Who gives the prompts, when the Segmenter's ``annotator`` is not set.
ANNOTATOR_ENV = "NNI_JUPYTER_ANNOTATOR"
#: The longest annotator name a stamp keeps.
MAX_ANNOTATOR_LENGTH = 200
#: Commands that are not undoable steps of the object store.
NOT_STEPS = ("select_object", "set_overlap", "resync")


@dataclass(frozen=True)
class Stamp:
    """What the record keeps beside each item: the object it acted on (None when unknown, as for
    items restored from an old save file), when it was submitted (UTC ISO 8601), whether it
    changed anything, the overlap policy it ran under and who gave it (None when unknown)."""

    object_id: int | None
    submitted: str | None
    applied: bool = True
    overlap: str | None = None
    annotator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form (the save file's ``stamps``)."""
        return {
            "object": self.object_id,
            "time": self.submitted,
            "applied": self.applied,
            "overlap": self.overlap,
            "annotator": self.annotator,
        }

    @classmethod
    def from_dict(cls, value: Any) -> Stamp:
        """Inverse of :meth:`to_dict`, checking every field.

        Raises
        ------
        ValueError
            When ``value`` is not ``{"object": id or null, "time": ISO 8601 text or null,
            "applied": bool, "overlap": a policy or null, "annotator": text or null}``
            (``annotator`` may be absent).
        """
        keys = {"object", "time", "applied", "overlap"}
        if not isinstance(value, dict) or not keys <= set(value) <= keys | {"annotator"}:
            raise ValueError(
                "a stamp must be {object, time, applied, overlap[, annotator]}; "
                f"got {str(value)[:200]}"
            )
        annotator = value.get("annotator")
        if annotator is not None and not (
            isinstance(annotator, str) and len(annotator) <= MAX_ANNOTATOR_LENGTH
        ):
            raise ValueError(
                f"a stamp's annotator must be null or text of at most {MAX_ANNOTATOR_LENGTH} "
                f"characters; got {str(annotator)[:80]!r}"
            )
        if value["overlap"] not in (None, *OVERLAP_POLICIES):
            raise ValueError(
                f"a stamp's overlap must be null or one of {', '.join(OVERLAP_POLICIES)}; "
                f"got {str(value['overlap'])[:80]!r}"
            )
        object_id, submitted, applied = value["object"], value["time"], value["applied"]
        if object_id is not None and (
            not isinstance(object_id, int)
            or isinstance(object_id, bool)
            or not 1 <= object_id <= MAX_OBJECT_ID
        ):
            raise ValueError(
                f"a stamp's object must be null or in 1..{MAX_OBJECT_ID}; got {object_id!r}"
            )
        if submitted is not None:
            try:
                datetime.fromisoformat(submitted)
            except (TypeError, ValueError):
                raise ValueError(
                    f"a stamp's time must be null or ISO 8601 text; got {str(submitted)[:80]!r}"
                ) from None
        if not isinstance(applied, bool):
            raise ValueError(f"a stamp's applied must be true or false; got {applied!r}")
        return cls(object_id, submitted, applied, value["overlap"], annotator)


@dataclass(frozen=True)
class Entry:
    """A prompt that still shapes its object: its place in the record, the prompt, its stamp."""

    sequence: int
    prompt: Prompt
    stamp: Stamp


def live_prompts(
    record: Sequence[Prompt | Command], stamps: Sequence[Stamp]
) -> dict[int, list[Entry]]:
    """Per object id, the prompts that still shape it, in record order.

    Raises
    ------
    ValueError
        When an item does not say which object it acted on (restored from an old save file).
    """
    done: list[tuple[int, Prompt | Command, Stamp]] = []  # the steps undo could take back
    undone: list[tuple[int, Prompt | Command, Stamp]] = []
    for sequence, (item, stamp) in enumerate(zip(record, stamps, strict=True)):
        if stamp.object_id is None:
            raise ValueError(
                "the record does not say which object each prompt acted on (it was restored "
                "from a save file written before nni_jupyter kept that): replay seg.prompts on "
                "a new Segmenter, then save again"
            )
        if isinstance(item, Command) and item.name in ("undo", "redo"):
            if stamp.applied:
                source, target = (done, undone) if item.name == "undo" else (undone, done)
                target.append(source.pop())
            continue
        if isinstance(item, Command) and item.name in NOT_STEPS:
            continue
        done.append((sequence, item, stamp))
        undone.clear()
    objects: dict[int, list[Entry]] = {}
    for sequence, item, stamp in done:
        object_id = int(stamp.object_id)  # type: ignore[arg-type]
        if isinstance(item, Prompt):
            objects.setdefault(object_id, []).append(Entry(sequence, item, stamp))
        elif item.name == "delete_object":
            objects.pop(object_id, None)
        elif item.name == "remove_prompt":
            objects[object_id].pop(int(item.index))  # type: ignore[arg-type]
        elif item.name == "rename_object":
            continue  # a step of the object table; its prompts stay
        else:  # new_object, reset_object
            objects[object_id] = []
    return objects


def pick(entries: Sequence[Entry], object_id: int, command: Command) -> int:
    """The position in ``entries`` (an object's live prompts) that ``remove_prompt`` names.

    Raises
    ------
    IndexError
        When the index is out of range, or the prompt there is not at the expected ``sequence``
        (the caller's prompt list is stale).
    """
    index = int(command.index)  # type: ignore[arg-type]
    if not -len(entries) <= index < len(entries):
        raise IndexError(
            f"object {object_id} has {len(entries)} prompts; got index {index} "
            f"(expected 0..{len(entries) - 1})"
        )
    position = index % len(entries)
    found = entries[position].sequence
    if command.sequence is not None and found != command.sequence:
        raise IndexError(
            f"prompt {index} of object {object_id} is record item {found}, not "
            f"{command.sequence}: the prompt list changed; refresh it and try again"
        )
    return position


#: The most vertices a prompt row carries to the browser (longer strokes are thinned for display).
MAX_ROW_POINTS = 64


def prompt_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The ``prompt_list`` trait: one small JSON row per live prompt of an object (PROTOCOL.md).

    Each row has its ``index`` (for ``remove_prompt``), ``sequence`` (its record place),
    ``kind``, ``positive``, the plane it lies on (``axis`` and ``slice``, or null), ``draw`` and
    ``points`` (how to outline it: a gesture or edit tool, or ``"none"``, and up to
    :data:`MAX_ROW_POINTS` voxel positions ``[x, y, z]``), ``focus`` (the ``slice_index`` to go
    to, null for an axis to keep), and for edits ``radius`` (a brush's ``[rp, rq]`` voxels, else
    null) and ``amount`` (a clean-up's mm or mL, else null).
    """
    return [_row(index, entry) for index, entry in enumerate(entries)]


def _row(index: int, entry: Entry) -> dict[str, Any]:
    prompt = entry.prompt
    plane, where = prompt_focus(prompt)
    axis, index_on_axis, draw, points = plane, None, "box", []
    if prompt.vertices is not None and prompt.axis is not None and prompt.index is not None:
        p_axis, q_axis = plane_axes(prompt.axis)
        draw, index_on_axis = prompt.tool, prompt.index
        for p, q in _thin(prompt.vertices):
            point = [0.0, 0.0, 0.0]
            point[prompt.axis], point[p_axis], point[q_axis] = prompt.index, p, q
            points.append(point)
    elif prompt.point is not None:
        draw, points = "point", [list(prompt.point)]
    elif prompt.tool in EDIT_TOOLS:
        draw = "none"  # a 3-D clean-up: nothing to outline
    else:
        box = (
            prompt.bbox if prompt.bbox is not None else (prompt.mask.bbox if prompt.mask else None)
        )
        if box is not None:
            points = [[float(lo) for lo, _ in box], [float(hi - 1) for _, hi in box]]
            index_on_axis = None if plane is None else box[plane][0]
    return {
        "index": index,
        "sequence": entry.sequence,
        "kind": prompt.tool,
        "positive": bool(prompt.positive),
        "axis": axis,
        "slice": index_on_axis,
        "draw": draw,
        "points": points,
        "focus": [where.get(a) for a in range(3)],
        **_edit_row(prompt),
    }


def _edit_row(prompt: Prompt) -> dict[str, Any]:
    if prompt.tool not in EDIT_TOOLS:
        return {}
    radius = None if prompt.radius is None else list(prompt.radius)
    return {"radius": radius, "amount": prompt.amount}


def _thin(vertices: Sequence[tuple[float, float]]) -> Sequence[tuple[float, float]]:
    if len(vertices) <= MAX_ROW_POINTS:
        return vertices
    step = (len(vertices) - 1) / (MAX_ROW_POINTS - 1)
    return [vertices[round(k * step)] for k in range(MAX_ROW_POINTS)]
