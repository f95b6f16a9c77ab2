"""The prompt log: a versioned, human-readable JSON record of one annotation's work.

It holds the image (path, fingerprint, geometry), the model (name, id, checkpoint SHA-256, package
version, AutoZoom, precision), per object its name, class id, colour and the prompts that still
shape it, in voxels and in world millimetres, and (since version 2) ``record``: every prompt and
command that ran, in order, each with its stamp. The record is the truth: replaying it on a new
annotation of the same image runs the same calls in the same order, so the labels come back
exactly; the per-object prompts are its readable summary. A version 1 log (no record) replays
from the per-object prompts. :func:`read` validates a whole file before anything runs;
:func:`replay_plan` turns a log back into prompts and commands.

A log is user-editable text: every field is checked, and errors name the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._version import __version__
from ..atomic import write_atomic
from ..core.files import file_sha256
from ..core.gestures import plane_axes
from ..measurements import voxel_to_world
from .prompts import (
    AMOUNT_UNITS,
    EDIT_TOOLS,
    MAX_CLASS_ID,
    MAX_OBJECT_ID,
    OVERLAP_POLICIES,
    SLICE_EDITS,
    TOOLS,
    Command,
    MaskCrop,
    Prompt,
    item_from_dict,
)
from .record import ANNOTATOR_ENV, Entry, Stamp

FORMAT = "nni_jupyter.prompt_log"
VERSION = 2
#: Versions this code reads: 1 (per-object prompts only) and 2 (with the whole record).
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Geometry:
    """Where the image's voxels lie: ``world = origin + direction @ (index * spacing)``."""

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    path: str | None = None

    def world(self, index: Any) -> list[Any]:
        """World millimetres of voxel ``index`` (``[3]`` or ``[N, 3]``), as plain lists."""
        mm = voxel_to_world(index, self.spacing_mm, self.origin_mm, self.direction)
        return np.round(mm, 6).tolist()  # type: ignore[no-any-return]


def geometry_of(image: Any, shape: Sequence[int], spacing_mm: Sequence[float]) -> Geometry:
    """The geometry of an :class:`nni_jupyter.Image` (``image``), or identity for a bare array."""
    x, y, z = (int(s) for s in shape)
    sx, sy, sz = (float(s) for s in spacing_mm)
    if image is None:
        return Geometry((x, y, z), (sx, sy, sz))
    ox, oy, oz = (float(v) for v in image.origin_mm)
    rows = tuple(tuple(float(v) for v in row) for row in np.asarray(image.direction))
    path = None if image.path is None else str(image.path)
    return Geometry((x, y, z), (sx, sy, sz), (ox, oy, oz), rows, path)


def prompt_entry(entry: Entry, geometry: Geometry, annotator: str | None) -> dict[str, Any]:
    """One prompt as the log writes it: geometry in voxels and in world mm."""
    prompt = entry.prompt
    out: dict[str, Any] = {
        "sequence": entry.sequence,
        "kind": prompt.tool,
        "positive": bool(prompt.positive),
        "time": entry.stamp.submitted,
        "annotator": entry.stamp.annotator or annotator,
        "overlap": entry.stamp.overlap,
    }
    if prompt.vertices is not None and prompt.axis is not None and prompt.index is not None:
        p_axis, q_axis = plane_axes(prompt.axis)
        points = np.zeros((len(prompt.vertices), 3))
        points[:, prompt.axis] = prompt.index
        points[:, [p_axis, q_axis]] = prompt.vertices
        out.update(
            axis=prompt.axis,
            slice=prompt.index,
            vertices_voxel=[list(v) for v in prompt.vertices],
            vertices_mm=geometry.world(points),
        )
    elif prompt.point is not None:
        out.update(point_voxel=list(prompt.point), point_mm=geometry.world(prompt.point))
    elif prompt.bbox is not None:
        corners = [[lo for lo, _ in prompt.bbox], [hi for _, hi in prompt.bbox]]
        out.update(bbox_voxel=[list(b) for b in prompt.bbox], bbox_mm=geometry.world(corners))
    elif prompt.mask is not None:
        out.update(mask=prompt.mask.to_dict(), refine=bool(prompt.refine))
    out.update(_edit_fields(prompt, geometry))
    return out


def _edit_fields(prompt: Prompt, geometry: Geometry) -> dict[str, Any]:
    """A hand edit's brush radius (voxels per in-plane axis and mm), amount and unit, object."""
    out: dict[str, Any] = {}
    if prompt.radius is not None and prompt.axis is not None:
        spacing = [geometry.spacing_mm[a] for a in plane_axes(prompt.axis)]
        out["radius_voxel"] = list(prompt.radius)
        out["radius_mm"] = [round(r * s, 6) for r, s in zip(prompt.radius, spacing, strict=True)]
    if prompt.amount is not None:
        out.update(amount=prompt.amount, unit=AMOUNT_UNITS[prompt.tool])
    if prompt.object is not None:
        out["object"] = prompt.object
    return out


def credited(annotator: str | None) -> str | None:
    """Who a log credits with the prompts that recorded nobody: ``annotator``, else
    ``$NNI_JUPYTER_ANNOTATOR``."""
    return annotator if annotator is not None else os.environ.get(ANNOTATOR_ENV) or None


def record_entries(
    record: Sequence[Prompt | Command],
    stamps: Sequence[Stamp],
    initial_overlap: str,
    who: str | None = None,
) -> dict[str, Any]:
    """The log's ``record`` part: every item with its stamp (an item that recorded nobody is
    credited to ``who``, as in the per-object summary), and the overlap policy the record
    starts under."""
    return {
        "initial_overlap": initial_overlap,
        "record": [
            {
                "item": item.to_dict(),
                "stamp": {**stamp.to_dict(), "annotator": stamp.annotator or who},
            }
            for item, stamp in zip(record, stamps, strict=True)
        ],
    }


def build(
    geometry: Geometry,
    fingerprint: str,
    model: dict[str, Any],
    objects: Sequence[dict[str, Any]],
    live: dict[int, list[Entry]],
    overlap: str,
    annotator: str | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a prompt log (see the module docstring); ``annotator`` defaults to the env var.

    ``overlap`` is the annotation's policy now; each prompt also records the one it ran under.
    ``record`` is :func:`record_entries`' result (None: a version 1 log, no record).
    """
    who = credited(annotator)
    summary = {
        "format": FORMAT,
        "version": VERSION,
        "image": {
            "path": geometry.path,
            "fingerprint": fingerprint,
            "shape": list(geometry.shape),
            "spacing_mm": list(geometry.spacing_mm),
            "origin_mm": list(geometry.origin_mm),
            "direction": [list(row) for row in geometry.direction],
        },
        "model": model,
        "overlap": overlap,
        "objects": [
            {
                "id": int(info["id"]),
                "name": str(info["name"]),
                "class_id": int(info["class_id"]),
                "color": [int(c) for c in info["color"]],
                "prompts": [
                    prompt_entry(entry, geometry, who) for entry in live.get(int(info["id"]), [])
                ],
            }
            for info in objects
        ],
    }
    return {**summary, "version": 1} if record is None else {**summary, **record}


def model_entry(session: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The log's ``model`` part for a loaded ``session`` and its ``model_info``: name, the
    model store's id and snapshot commit where known, checkpoint SHA-256 when it is a file, and
    the ``runner`` that ``precision="auto"`` measured and ran (``"bf16 channels-last"``,
    ``"bf16 openvino"``; provenance: a replay computes in the recorded ``precision``)."""
    checkpoint = getattr(getattr(session, "model", None), "checkpoint", None)
    autozoom = getattr(session, "do_autozoom", None)
    precision = getattr(session, "precision", None)
    entry = {
        "precision": None if precision is None else str(precision),
        "name": str(info.get("name", "")),
        "checkpoint_sha256": None if checkpoint is None else file_sha256(Path(checkpoint)),
        "nni_jupyter_version": __version__,
        "autozoom": None if autozoom is None else bool(autozoom),
    }
    for key in ("id", "commit"):  # the model store's, when the model came from it
        if info.get(key):
            entry[key] = str(info[key])
    tuning = getattr(session, "tuning", None)  # what precision="auto" measured and runs
    if tuning is not None:
        entry["runner"] = str(tuning.candidate.label)  # e.g. "bf16 openvino"
    return entry


def save(path: str | os.PathLike[str], log: dict[str, Any]) -> Path:
    """Write ``log`` as indented JSON to ``path`` atomically; return the path."""
    text = json.dumps(log, indent=1, allow_nan=False).encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(text)

    return write_atomic(path, write)


# ---- reading and checking -------------------------------------------------------------------


class _Checker:
    """Raises ``ValueError("<file>: field <field>: <problem>")``."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field: str, problem: str) -> ValueError:
        return ValueError(f"prompt log {self.source}: field {field}: {problem}")

    def get(
        self, value: dict[str, Any], key: str, field: str, kind: type | tuple[type, ...]
    ) -> Any:
        if key not in value:
            raise self.fail(f"{field}{key}", "is missing")
        item = value[key]
        if not isinstance(item, kind) or (isinstance(item, bool) and kind is not bool):
            raise self.fail(f"{field}{key}", f"expected {_kind_name(kind)}; got {item!r}")
        return item

    def numbers(self, value: Any, field: str, count: int, positive: bool = False) -> list[float]:
        if not isinstance(value, list) or len(value) != count:
            raise self.fail(field, f"expected a list of {count} numbers; got {value!r}")
        for k, number in enumerate(value):
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise self.fail(f"{field}[{k}]", f"expected a number; got {number!r}")
            if not math.isfinite(number) or (positive and number <= 0):
                raise self.fail(
                    f"{field}[{k}]",
                    f"expected a finite {'positive ' * positive}number; got {number!r}",
                )
        return [float(number) for number in value]

    def integer(self, value: dict[str, Any], key: str, field: str, lo: int, hi: int) -> int:
        number = self.get(value, key, field, int)
        if not lo <= number <= hi:
            raise self.fail(f"{field}{key}", f"expected an integer in {lo}..{hi}; got {number}")
        return int(number)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "an integer",
        bool: "true or false",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check(log: Any, source: str = "<dict>") -> dict[str, Any]:
    """Check a whole prompt log (structure, types, ranges); return it.

    Raises
    ------
    ValueError
        Naming ``source`` and the first wrong field.
    """
    checker = _Checker(source)
    if not isinstance(log, dict):
        raise checker.fail("(top level)", f"expected an object; got {type(log).__name__}")
    if checker.get(log, "format", "", str) != FORMAT:
        raise checker.fail("format", f"expected {FORMAT!r}; got {log['format']!r}")
    if checker.get(log, "version", "", int) not in READABLE_VERSIONS:
        raise checker.fail(
            "version",
            f"expected one of {READABLE_VERSIONS}; got {log['version']!r} (a newer log?)",
        )
    image = checker.get(log, "image", "", dict)
    shape = checker.numbers(checker.get(image, "shape", "image.", list), "image.shape", 3, True)
    if any(s != int(s) for s in shape):
        raise checker.fail("image.shape", f"expected 3 positive integers; got {image['shape']!r}")
    checker.numbers(checker.get(image, "spacing_mm", "image.", list), "image.spacing_mm", 3, True)
    checker.numbers(checker.get(image, "origin_mm", "image.", list), "image.origin_mm", 3)
    direction = checker.get(image, "direction", "image.", list)
    if len(direction) != 3:
        raise checker.fail("image.direction", f"expected 3 rows of 3 numbers; got {direction!r}")
    for row, values in enumerate(direction):
        checker.numbers(values, f"image.direction[{row}]", 3)
    checker.get(image, "fingerprint", "image.", str)
    if image.get("path") is not None:
        checker.get(image, "path", "image.", str)
    checker.get(checker.get(log, "model", "", dict), "name", "model.", str)
    _check_overlap(checker, log, "")
    seen: set[int] = set()
    for k, obj in enumerate(checker.get(log, "objects", "", list)):
        field = f"objects[{k}]."
        if not isinstance(obj, dict):
            raise checker.fail(f"objects[{k}]", f"expected an object; got {obj!r}")
        object_id = checker.integer(obj, "id", field, 1, MAX_OBJECT_ID)
        if object_id in seen:
            raise checker.fail(f"{field}id", f"object id {object_id} appears twice")
        seen.add(object_id)
        checker.get(obj, "name", field, str)
        checker.integer(obj, "class_id", field, 0, MAX_CLASS_ID)
        color = checker.numbers(checker.get(obj, "color", field, list), f"{field}color", 3)
        if any(c != int(c) or not 0 <= c <= 255 for c in color):
            raise checker.fail(f"{field}color", f"expected 3 integers 0..255; got {obj['color']!r}")
        for j, entry in enumerate(checker.get(obj, "prompts", field, list)):
            _check_prompt(checker, entry, f"{field}prompts[{j}]")
    if log["version"] >= 2:
        _check_record(checker, log)
    return log


def _check_record(checker: _Checker, log: dict[str, Any]) -> None:
    if log.get("initial_overlap") not in OVERLAP_POLICIES:
        raise checker.fail(
            "initial_overlap",
            f"expected one of {', '.join(OVERLAP_POLICIES)}; got {log.get('initial_overlap')!r}",
        )
    for k, entry in enumerate(checker.get(log, "record", "", list)):
        field = f"record[{k}]"
        if not isinstance(entry, dict):
            raise checker.fail(field, f"expected an object; got {str(entry)[:200]}")
        try:
            item_from_dict(checker.get(entry, "item", f"{field}.", dict))
            if entry.get("stamp") is not None:
                Stamp.from_dict(entry["stamp"])
        except (ValueError, TypeError, KeyError) as exc:
            raise checker.fail(field, str(exc)) from exc


def _check_prompt(checker: _Checker, entry: Any, field: str) -> None:
    if not isinstance(entry, dict):
        raise checker.fail(field, f"expected an object; got {entry!r}")
    checker.integer(entry, "sequence", f"{field}.", 0, 2**53)
    kind = checker.get(entry, "kind", f"{field}.", str)
    if kind not in TOOLS:
        raise checker.fail(f"{field}.kind", f"expected one of {', '.join(TOOLS)}; got {kind!r}")
    checker.get(entry, "positive", f"{field}.", bool)
    _check_overlap(checker, entry, f"{field}.")
    if "vertices_voxel" in entry:
        vertices = checker.get(entry, "vertices_voxel", f"{field}.", list)
        for k, vertex in enumerate(vertices):
            checker.numbers(vertex, f"{field}.vertices_voxel[{k}]", 2)
    elif "point_voxel" in entry:
        checker.numbers(entry["point_voxel"], f"{field}.point_voxel", 3)
    elif "bbox_voxel" in entry:
        box = checker.get(entry, "bbox_voxel", f"{field}.", list)
        for k, pair in enumerate(box):
            checker.numbers(pair, f"{field}.bbox_voxel[{k}]", 2)
    try:
        prompt_from_entry(entry)
    except (ValueError, TypeError, KeyError) as exc:
        raise checker.fail(field, str(exc)) from exc


def _check_overlap(checker: _Checker, value: dict[str, Any], field: str) -> None:
    """An ``overlap`` field is optional (older logs) and, when given, a policy (or null in a
    prompt whose policy was not recorded)."""
    allowed = (None, *OVERLAP_POLICIES) if field else OVERLAP_POLICIES
    if "overlap" in value and value["overlap"] not in allowed:
        raise checker.fail(
            f"{field}overlap",
            f"expected one of {', '.join(map(json.dumps, allowed))}; got {value['overlap']!r}",
        )


def prompt_from_entry(entry: dict[str, Any]) -> Prompt:
    """The :class:`Prompt` a (checked) log entry describes, from its voxel coordinates."""
    tool, positive = entry["kind"], entry["positive"]
    edit: dict[str, Any] = {
        key: entry[key] for key in ("amount", "object") if entry.get(key) is not None
    }
    if isinstance(entry.get("radius_voxel"), list):
        edit["radius"] = tuple(entry["radius_voxel"])
    if tool in EDIT_TOOLS and tool not in SLICE_EDITS:
        return Prompt(tool, positive, **edit)
    if "vertices_voxel" in entry:
        vertices = tuple((v[0], v[1]) for v in entry["vertices_voxel"])
        return Prompt(
            tool,
            positive,
            axis=entry.get("axis"),
            index=entry.get("slice"),
            vertices=vertices,
            **edit,
        )
    if "point_voxel" in entry:
        return Prompt(tool, positive, point=tuple(entry["point_voxel"]))
    if "bbox_voxel" in entry:
        return Prompt(tool, positive, bbox=tuple(tuple(pair) for pair in entry["bbox_voxel"]))
    if "mask" in entry:
        refine = bool(entry.get("refine", False))
        return Prompt(tool, positive, mask=MaskCrop.from_dict(entry["mask"]), refine=refine)
    raise ValueError("a prompt needs vertices_voxel, point_voxel, bbox_voxel or mask")


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and fully check a prompt log file.

    Raises
    ------
    ValueError
        When the file is not JSON or not a valid prompt log; the message names file and field.
    """
    source = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            log = json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(f"prompt log {source} is not valid JSON: {exc}") from exc
    return check(log, source)


def replay_items(log: dict[str, Any]) -> list[Prompt | Command]:
    """Prompts and commands that rebuild a (checked) log's objects on a new Segmenter; see
    :func:`replay_plan`."""
    return [item for item, _ in replay_plan(log)]


def replay_plan(log: dict[str, Any]) -> list[tuple[Prompt | Command, str | None]]:
    """Prompts and commands that rebuild a (checked) log's objects on a new annotation, each with
    the annotator the log names for it (None for the commands).

    A log with its record (version 2) gives the record itself: every item as it ran, in order
    (start it under the log's ``initial_overlap``). A version 1 log is rebuilt from its objects:
    objects are created in id order (the first takes the initial object), then the
    prompts run in their original order, selecting each prompt's object first and setting the
    overlap policy it ran under; the log's own policy is set last. A log without policies
    replays under ``"lock"``, the Segmenter's default.
    """
    if "record" in log:
        return [
            (item_from_dict(entry["item"]), (entry.get("stamp") or {}).get("annotator"))
            for entry in log["record"]
        ]
    objects = sorted(log["objects"], key=lambda obj: obj["id"])
    items: list[tuple[Prompt | Command, str | None]] = []
    new_id = {}
    for k, obj in enumerate(objects):
        if k:
            new = Command("new_object", object_name=obj["name"], class_id=obj["class_id"])
            items.append((new, None))
        new_id[obj["id"]] = k + 1
    prompts = sorted(
        (
            (entry["sequence"], new_id[obj["id"]], entry)
            for obj in objects
            for entry in obj["prompts"]
        ),
        key=lambda item: item[0],
    )
    active, overlap = len(objects), None
    final = log.get("overlap") or "lock"
    for _, object_id, entry in prompts:
        if object_id != active:
            items.append((Command("select_object", object=object_id), None))
            active = object_id
        wanted = entry.get("overlap") or final
        if wanted != overlap:
            items.append((Command("set_overlap", overlap=wanted), None))
            overlap = wanted
        items.append((prompt_from_entry(entry), entry.get("annotator")))
    if overlap != final:
        items.append((Command("set_overlap", overlap=final), None))
    return items
