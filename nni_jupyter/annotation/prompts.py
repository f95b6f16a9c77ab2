"""Prompt and Command values: what a gesture or a Python call asks for, recorded for replay.

Both are frozen dataclasses that check their own structure on creation (types, counts, finite
numbers); whether they fit a given image is checked by :mod:`nni_jupyter.annotation.raster`. Both
convert to and from plain JSON-able dicts, so ``[item.to_dict() for item in seg.prompts]`` can be
saved and replayed later with :func:`item_from_dict`.

A prompt has one of three geometry forms:

- slice form (a browser gesture): ``axis``, ``index`` and in-plane ``vertices`` ``((p, q), ...)``;
- ``point``: volume coordinates ``(x, y, z)`` (tool ``"point"``);
- ``bbox``: a half-open volume box ``((x0, x1), (y0, y1), (z0, z1))`` (tool ``"box"``);
- ``mask``: a :class:`MaskCrop` (tools ``"scribble"``, ``"lasso"`` and ``"mask"``).

Hand edits (:data:`EDIT_TOOLS`) are prompts too, so they take their place in the record, the undo
history, the prompt list and the log like any other: ``paint`` and ``erase`` are a stroke in slice
form with a ``radius`` (in-plane voxels per axis, :mod:`.brush`), ``fill`` one vertex in slice
form, and the 3-D clean-ups of the active object take no geometry (``fill_holes``,
``keep_largest``) or an ``amount`` (``remove_small``: mL; ``dilate`` and ``erode``: mm).
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from ..core.regions import Bbox, bbox_shape, nonzero_bbox, to_slices
from .codec import decode_mask, encode_mask

GestureTool = Literal["point", "box", "scribble", "lasso"]
#: Hand edits of the active object: strokes and a 2-D fill drawn on a slice, 3-D clean-ups.
EditTool = Literal[
    "paint", "erase", "fill", "fill_holes", "keep_largest", "remove_small", "dilate", "erode"
]
Tool = Literal[GestureTool, "mask", EditTool]
GESTURE_TOOLS: tuple[GestureTool, ...] = get_args(GestureTool)
EDIT_TOOLS: tuple[EditTool, ...] = get_args(EditTool)
#: Edits a browser draws on a slice (the others are Python calls).
SLICE_EDITS: tuple[EditTool, ...] = ("paint", "erase", "fill")
#: Edits with a brush radius.
BRUSH_EDITS: tuple[EditTool, ...] = ("paint", "erase")
#: Edits with an ``amount`` and its unit.
AMOUNT_UNITS: dict[str, str] = {"remove_small": "mL", "dilate": "mm", "erode": "mm"}
TOOLS: tuple[Tool, ...] = (*GESTURE_TOOLS, "mask", *EDIT_TOOLS)
MIN_VERTICES = {"point": 1, "box": 2, "scribble": 1, "lasso": 3, "paint": 1, "erase": 1, "fill": 1}
MAX_VERTICES = 100_000
#: The largest brush radius, in voxels (a stroke is cut to the slice anyway).
MAX_BRUSH_RADIUS = 512.0
#: The smallest brush radius, in voxels: a thinner brush may miss every voxel centre.
MIN_BRUSH_RADIUS = 0.5
#: The largest ``amount``: mm for dilate/erode, mL for remove_small.
MAX_AMOUNT = {"remove_small": 1e6, "dilate": 100.0, "erode": 100.0}
#: Vertices may lie outside the slice, but not so far that the geometry overflows.
MAX_COORDINATE = 1e9
#: Object ids are 1..65535: the owner map is uint8 until an id above 255 exists, then uint16.
MAX_OBJECT_ID = 65535
MAX_CLASS_ID = 65535
OVERLAP_POLICIES = ("lock", "overwrite")

#: Commands a browser may send (PROTOCOL.md); a Python call may also ``set_overlap``.
BROWSER_COMMANDS = (
    "undo",
    "redo",
    "reset_object",
    "new_object",
    "select_object",
    "delete_object",
    "remove_prompt",
)
#: ``resync`` restarts the session from the active object's mask: the runner records it where a
#: failed call may have left the session out of step with the objects, so a replay does the same.
COMMANDS = (*BROWSER_COMMANDS, "set_overlap", "rename_object", "resync")
COMMANDS_WITH_OBJECT = ("select_object", "delete_object", "rename_object")
#: The largest prompt index (or record position) a ``remove_prompt`` command may name.
MAX_PROMPT_INDEX = 2**31 - 1


@dataclass(frozen=True)
class MaskCrop:
    """A 0/1 volume mask stored as its nonzero bbox plus ``packbits-deflate`` bytes.

    Build it with :meth:`from_volume`; :meth:`crop` and :meth:`volume` decode it.
    """

    shape: tuple[int, int, int]
    bbox: tuple[tuple[int, int], ...] | None
    data: bytes = field(repr=False)

    @classmethod
    def from_volume(cls, mask: np.ndarray) -> MaskCrop:
        """Encode a full-volume 0/1 mask ``[X, Y, Z]`` (nonzero = 1)."""
        mask = np.asarray(mask)
        if mask.ndim != 3:
            raise ValueError(f"mask must be 3-D [X, Y, Z]; got shape {mask.shape}")
        bbox = nonzero_bbox(mask)
        shape = _shape3(mask.shape)
        if bbox is None:
            return cls(shape, None, encode_mask(np.zeros(0, np.uint8)))
        return cls(shape, tuple((lo, hi) for lo, hi in bbox), encode_mask(mask[to_slices(bbox)]))

    @property
    def empty(self) -> bool:
        """True when the mask has no nonzero voxel."""
        return self.bbox is None

    def crop(self) -> np.ndarray:
        """Return the uint8 0/1 crop inside :attr:`bbox` (raises on an empty mask)."""
        return decode_mask(self.data, bbox_shape(self._bbox()))

    def volume(self) -> np.ndarray:
        """Return the full uint8 0/1 volume."""
        out = np.zeros(self.shape, dtype=np.uint8)
        if self.bbox is not None:
            out[to_slices(self._bbox())] = self.crop()
        return out

    def _bbox(self) -> Bbox:
        if self.bbox is None:
            raise ValueError("the mask is empty: it has no crop")
        return [list(pair) for pair in self.bbox]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (the bytes as base64)."""
        return {
            "shape": list(self.shape),
            "bbox": None if self.bbox is None else [list(b) for b in self.bbox],
            "data": base64.b64encode(self.data).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> MaskCrop:
        """Inverse of :meth:`to_dict`."""
        bbox = value["bbox"]
        return cls(
            _shape3(value["shape"]),
            None if bbox is None else tuple((int(lo), int(hi)) for lo, hi in bbox),
            base64.b64decode(value["data"]),
        )


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a number; got {value!r}")
    if isinstance(value, int) and abs(value) > 2**53:
        raise ValueError(f"{what} is too large; got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{what} must be finite; got {value!r}")
    return float(value)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Prompt:
    """One prompt for the active object; see the module docstring for its geometry forms.

    Parameters
    ----------
    tool
        ``"point"``, ``"box"``, ``"scribble"``, ``"lasso"`` or ``"mask"`` (start the active object
        from a mask: the session's initial-segmentation prompt).
    positive
        True for foreground (``include_interaction=True``), False for background.
    refine
        Tool ``"mask"`` only: let the model refine the mask instead of taking it as is.
    radius
        ``paint`` and ``erase``: the brush radius in voxels along the slice's two in-plane axes
        ``(rp, rq)`` (a number means both), :data:`MIN_BRUSH_RADIUS`..:data:`MAX_BRUSH_RADIUS`.
    amount
        ``remove_small`` (mL), ``dilate`` and ``erode`` (mm): a positive number.
    object
        Edits only, optional: the object the edit is meant for (a browser sends the one it shows
        active); the edit is refused when that object is gone or no longer active.
    """

    tool: Tool
    positive: bool = True
    axis: int | None = None
    index: int | None = None
    vertices: tuple[tuple[float, float], ...] | None = None
    point: tuple[float, float, float] | None = None
    bbox: tuple[tuple[int, int], ...] | None = None
    mask: MaskCrop | None = None
    refine: bool = False
    radius: tuple[float, float] | None = None
    amount: float | None = None
    object: int | None = None

    def __post_init__(self) -> None:
        if self.tool not in TOOLS:
            raise ValueError(f"tool must be one of {', '.join(TOOLS)}; got {self.tool!r}")
        if not isinstance(self.positive, (bool, np.bool_)):
            raise ValueError(f"positive must be True or False; got {self.positive!r}")
        self._check_edit_fields()
        forms = [
            name
            for name, value in (
                ("vertices", self.vertices),
                ("point", self.point),
                ("bbox", self.bbox),
                ("mask", self.mask),
            )
            if value is not None
        ]
        if self.tool in EDIT_TOOLS and self.tool not in SLICE_EDITS:
            if forms:
                raise ValueError(f"a {self.tool} edit takes no geometry; got {forms}")
            return
        if len(forms) != 1:
            raise ValueError(
                "a prompt needs exactly one of vertices, point, bbox or mask; "
                f"got {forms or 'none'}"
            )
        allowed = {
            "point": ("vertices", "point"),
            "box": ("vertices", "bbox"),
            "scribble": ("vertices", "mask"),
            "lasso": ("vertices", "mask"),
            "mask": ("mask",),
            "paint": ("vertices",),
            "erase": ("vertices",),
            "fill": ("vertices",),
        }[self.tool]
        if forms[0] not in allowed:
            raise ValueError(f"a {self.tool} prompt takes {' or '.join(allowed)}; got {forms[0]}")
        if self.vertices is not None:
            self._check_slice_form()
        if self.point is not None:
            object.__setattr__(self, "point", _coords(self.point, "point"))
        if self.bbox is not None:
            object.__setattr__(self, "bbox", _volume_bbox(self.bbox))
        if self.refine and self.tool != "mask":
            raise ValueError("refine applies to mask prompts only")

    def _check_slice_form(self) -> None:
        if self.axis is None or self.index is None:
            raise ValueError(
                "a prompt with vertices needs axis and index (the slice it was drawn on)"
            )
        axis = _integer(self.axis, "axis")
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2; got {axis}")
        index = _integer(self.index, "index")
        vertices = self.vertices
        if not isinstance(vertices, (list, tuple)):
            raise ValueError(
                f"vertices must be a list of [p, q] pairs; got {type(vertices).__name__}"
            )
        if len(vertices) > MAX_VERTICES:
            raise ValueError(f"at most {MAX_VERTICES} vertices are accepted; got {len(vertices)}")
        need = MIN_VERTICES[self.tool]
        if self.tool in ("point", "box", "fill") and len(vertices) != need:
            raise ValueError(f"a {self.tool} takes exactly {need} vertices; got {len(vertices)}")
        if len(vertices) < need:
            raise ValueError(f"a {self.tool} takes at least {need} vertices; got {len(vertices)}")
        clean = []
        for k, vertex in enumerate(vertices):
            if not isinstance(vertex, (list, tuple)) or len(vertex) != 2:
                raise ValueError(f"vertex {k} must be a [p, q] pair; got {vertex!r}")
            pair = (_finite(vertex[0], f"vertex {k} p"), _finite(vertex[1], f"vertex {k} q"))
            if max(abs(pair[0]), abs(pair[1])) > MAX_COORDINATE:
                raise ValueError(
                    f"vertex {k} coordinates must be within +-{MAX_COORDINATE:g} voxels; got {pair}"
                )
            clean.append(pair)
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "vertices", tuple(clean))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; :func:`item_from_dict` inverts it."""
        out: dict[str, Any] = {"kind": "prompt", "tool": self.tool, "positive": bool(self.positive)}
        if self.vertices is not None:
            out.update(axis=self.axis, index=self.index, vertices=[list(v) for v in self.vertices])
        if self.point is not None:
            out["point"] = list(self.point)
        if self.bbox is not None:
            out["bbox"] = [list(b) for b in self.bbox]
        if self.mask is not None:
            out["mask"] = self.mask.to_dict()
        if self.refine:
            out["refine"] = True
        if self.radius is not None:
            out["radius"] = list(self.radius)
        if self.amount is not None:
            out["amount"] = self.amount
        if self.object is not None:
            out["object"] = self.object
        return out

    def _check_edit_fields(self) -> None:
        """Check ``radius``, ``amount`` and ``object``: each belongs to some edits only."""
        edit = self.tool in EDIT_TOOLS
        if not edit and (self.radius, self.amount, self.object) != (None, None, None):
            raise ValueError(f"radius, amount and object apply to edits only, not {self.tool}")
        if edit and not self.positive:
            raise ValueError(f"a {self.tool} edit is never negative: erase removes voxels")
        if (self.radius is not None) != (self.tool in BRUSH_EDITS):
            raise ValueError(
                f"a {self.tool} edit {'needs' if self.tool in BRUSH_EDITS else 'takes no'} radius"
            )
        if self.radius is not None:
            object.__setattr__(self, "radius", _brush_radius(self.radius))
        if (self.amount is not None) != (self.tool in AMOUNT_UNITS):
            needs = "needs" if self.tool in AMOUNT_UNITS else "takes no"
            raise ValueError(f"a {self.tool} edit {needs} amount")
        if self.amount is not None:
            amount, most = _finite(self.amount, "amount"), MAX_AMOUNT[self.tool]
            if not 0 < amount <= most:
                unit = AMOUNT_UNITS[self.tool]
                raise ValueError(
                    f"the {self.tool} amount must be above 0 and at most {most:g} {unit}; "
                    f"got {amount:g}"
                )
            object.__setattr__(self, "amount", amount)
        if self.object is not None:
            object_id = _integer(self.object, "object")
            if not 1 <= object_id <= MAX_OBJECT_ID:
                raise ValueError(f"object id must be in 1..{MAX_OBJECT_ID}; got {object_id}")
            object.__setattr__(self, "object", object_id)


def _brush_radius(value: Any) -> tuple[float, float]:
    """A brush radius as ``(rp, rq)`` voxels, checked: a number or a pair of numbers."""
    pair = value if isinstance(value, (list, tuple, np.ndarray)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"radius must be a number or (rp, rq); got {value!r}")
    radius = (_finite(pair[0], "radius"), _finite(pair[1], "radius"))
    if not all(MIN_BRUSH_RADIUS <= r <= MAX_BRUSH_RADIUS for r in radius):
        raise ValueError(
            f"the brush radius must be {MIN_BRUSH_RADIUS:g}..{MAX_BRUSH_RADIUS:g} voxels on "
            f"each in-plane axis; got {radius[0]:g}, {radius[1]:g}"
        )
    return radius


def _coords(value: Any, what: str) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != 3:
        raise ValueError(f"{what} must be (x, y, z); got {value!r}")
    return tuple(_finite(v, f"{what} coordinate") for v in value)  # type: ignore[return-value]


def _volume_bbox(value: Any) -> tuple[tuple[int, int], ...]:
    try:
        pairs = [(int(lo), int(hi)) for lo, hi in value]
        exact = all(lo == a and hi == b for (lo, hi), (a, b) in zip(pairs, value, strict=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bbox must be [[x0, x1], [y0, y1], [z0, z1]]; got {value!r}") from exc
    if len(pairs) != 3 or not exact:
        raise ValueError(
            f"bbox must be 3 integer pairs [[x0, x1], [y0, y1], [z0, z1]]; got {value!r}"
        )
    for axis, (lo, hi) in enumerate(pairs):
        if hi <= lo:
            raise ValueError(
                f"bbox axis {axis} is empty or reversed: [{lo}, {hi}] (half-open, lo < hi)"
            )
    return tuple(pairs)


def check_name(name: str | None) -> str | None:
    """Return ``name`` when files can hold it (text with a UTF-8 form), else raise ValueError:
    a lone surrogate (``"\\ud800"``) would be accepted here and fail every export later."""
    try:
        None if name is None else name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"an object's name must be text that files can hold; {name!r} has a lone surrogate "
            f"at character {exc.start}"
        ) from exc
    return name


@dataclass(frozen=True)
class Command:
    """A state change other than a prompt.

    Parameters
    ----------
    name
        One of ``undo``, ``redo``, ``reset_object``, ``new_object``, ``select_object``,
        ``delete_object``, ``rename_object``, ``remove_prompt``, ``set_overlap``, ``resync``.
    object
        The object id (1..65535) for ``select_object``, ``delete_object`` and ``rename_object``.
    object_name, class_id
        Optional name and class id for ``new_object`` and ``rename_object``.
    overlap
        ``"lock"`` or ``"overwrite"`` for ``set_overlap``.
    index, sequence
        ``remove_prompt`` only: which of the object's live prompts to remove (as in
        ``seg.prompt_log()``; negative counts from the end), and optionally its expected place in
        the record (the log's ``sequence``): when given and the prompt at ``index`` has another
        one, the command is refused (the caller's list is stale). ``object`` None there means the
        object active when the command runs.
    """

    name: str
    object: int | None = None
    object_name: str | None = None
    class_id: int | None = None
    overlap: str | None = None
    index: int | None = None
    sequence: int | None = None

    def object_id(self) -> int:
        """The object a ``select_object`` or ``delete_object`` command is about."""
        if self.object is None:
            raise ValueError(f"command {self.name} names no object id")
        return self.object

    def __post_init__(self) -> None:
        if self.name not in COMMANDS:
            raise ValueError(f"command must be one of {', '.join(COMMANDS)}; got {self.name!r}")
        if self.name in COMMANDS_WITH_OBJECT:
            if self.object is None:
                raise ValueError(f"command {self.name} needs an object id")
            object_id = _integer(self.object, "object")
            if not 1 <= object_id <= MAX_OBJECT_ID:
                raise ValueError(f"object id must be in 1..{MAX_OBJECT_ID}; got {object_id}")
            object.__setattr__(self, "object", object_id)
        elif self.object is not None and self.name != "remove_prompt":
            raise ValueError(f"command {self.name} takes no object id")
        self._check_removal()
        if self.object_name is not None and not isinstance(self.object_name, str):
            raise ValueError(f"object_name must be a string; got {self.object_name!r}")
        check_name(self.object_name)
        if self.class_id is not None:
            class_id = _integer(self.class_id, "class_id")
            if not 0 <= class_id <= MAX_CLASS_ID:
                raise ValueError(f"class_id must be in 0..{MAX_CLASS_ID}; got {class_id}")
            object.__setattr__(self, "class_id", class_id)
        if self.name == "rename_object" and self.object_name is None and self.class_id is None:
            raise ValueError("command rename_object needs a new object_name or class_id")
        if self.name == "set_overlap" and self.overlap not in OVERLAP_POLICIES:
            raise ValueError(f"overlap must be one of {OVERLAP_POLICIES}; got {self.overlap!r}")

    def _check_removal(self) -> None:
        if self.name != "remove_prompt":
            if self.index is not None or self.sequence is not None:
                raise ValueError(f"command {self.name} takes no prompt index or sequence")
            return
        if self.object is not None:
            object_id = _integer(self.object, "object")
            if not 1 <= object_id <= MAX_OBJECT_ID:
                raise ValueError(f"object id must be in 1..{MAX_OBJECT_ID}; got {object_id}")
            object.__setattr__(self, "object", object_id)
        if self.index is None:
            raise ValueError("command remove_prompt needs the prompt's index")
        index = _integer(self.index, "index")
        if not -MAX_PROMPT_INDEX <= index <= MAX_PROMPT_INDEX:
            raise ValueError(f"index must be within +-{MAX_PROMPT_INDEX}; got {index}")
        object.__setattr__(self, "index", index)
        if self.sequence is not None:
            sequence = _integer(self.sequence, "sequence")
            if not 0 <= sequence <= MAX_PROMPT_INDEX:
                raise ValueError(f"sequence must be in 0..{MAX_PROMPT_INDEX}; got {sequence}")
            object.__setattr__(self, "sequence", sequence)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; :func:`item_from_dict` inverts it."""
        out: dict[str, Any] = {"kind": "command", "name": self.name}
        for key in ("object", "object_name", "class_id", "overlap", "index", "sequence"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def item_from_dict(value: dict[str, Any]) -> Prompt | Command:
    """Rebuild a :class:`Prompt` or :class:`Command` from its :meth:`to_dict` form."""
    if not isinstance(value, dict):
        raise ValueError(f"expected a dict from Prompt.to_dict or Command.to_dict; got {value!r}")
    fields = {k: v for k, v in value.items() if k != "kind"}
    kind = value.get("kind")
    if kind == "command":
        return Command(**fields)
    if kind != "prompt":
        raise ValueError(f"kind must be 'prompt' or 'command'; got {kind!r}")
    if "vertices" in fields:
        fields["vertices"] = tuple(tuple(v) for v in fields["vertices"])
    if "point" in fields:
        fields["point"] = tuple(fields["point"])
    if "mask" in fields:
        fields["mask"] = MaskCrop.from_dict(fields["mask"])
    if isinstance(fields.get("radius"), list):
        fields["radius"] = tuple(fields["radius"])
    return Prompt(**fields)


def prompt_focus(prompt: Prompt) -> tuple[int | None, dict[int, int]]:
    """Where a prompt lies, for bringing it into view: ``(plane axis or None, {axis: index})``.

    A point gives its voxel on every axis; a prompt drawn on a slice gives that slice (and its
    axis as the plane); a box or mask over the volume gives its one-voxel-thick axis as the plane
    when it has one, else the centre of its bbox.
    """
    if prompt.point is not None:
        return None, {a: round(c) for a, c in enumerate(prompt.point)}
    if prompt.axis is not None and prompt.index is not None:
        return prompt.axis, {prompt.axis: prompt.index}
    box = prompt.bbox if prompt.bbox is not None else (prompt.mask.bbox if prompt.mask else None)
    if box is None:
        return None, {}
    flat = [a for a, (lo, hi) in enumerate(box) if hi - lo == 1]
    where = {a: (lo + hi - 1) // 2 for a, (lo, hi) in enumerate(box)}
    return (flat[0] if flat else None), where


def _shape3(shape: Any) -> tuple[int, int, int]:
    sizes = tuple(int(size) for size in shape)
    if len(sizes) != 3:
        raise ValueError(f"a mask's shape must be (X, Y, Z); got {sizes}")
    return sizes[0], sizes[1], sizes[2]
