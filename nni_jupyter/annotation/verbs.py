"""The verbs of an annotation: prompts, hand edits, objects and history, defined once.

:class:`~.annotation.Annotation` and its view :class:`nni_jupyter.Segmenter` both carry these
functions as their methods (``add_point = verbs.add_point``), so a signature, its ``wait=``
overloads and its docstring live in one place. Each verb builds a :class:`~.prompts.Prompt` or
:class:`~.prompts.Command` and hands it to the object it is called on (:class:`Runs`): the
annotation runs it; the Segmenter runs it through its annotation and brings a prompt into view.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Literal, Protocol, overload

import numpy as np

from ..core.gestures import plane_axes
from ..core.regions import Bbox
from .inputs import vertex_pairs
from .prompts import Command, EditTool, MaskCrop, Prompt, Tool
from .runner import Outcome

Item = Prompt | Command


class Runs(Protocol):
    """What a verb needs of the object it is called on: an annotation, or a view of one."""

    @property
    def spacing_mm(self) -> list[float]: ...

    @property
    def active_object(self) -> int: ...

    def run_item(self, item: Item, wait: bool = ...) -> Any: ...

    def run_prompt(self, prompt: Prompt, wait: bool = ...) -> Bbox | None | Future[Outcome]: ...


def _changed(self: Runs, command: Command, wait: bool) -> Any:
    """Run ``command``; the changed bbox (or the future with ``wait=False``)."""
    result = self.run_item(command, wait)
    return result.bbox if wait else result


# ---- prompts ----------------------------------------------------------------------------------


@overload
def add_point(
    self: Runs, point: Any, positive: bool = ..., *, wait: Literal[True] = ...
) -> Bbox | None: ...
@overload
def add_point(
    self: Runs, point: Any, positive: bool = ..., *, wait: Literal[False]
) -> Future[Outcome]: ...
def add_point(
    self: Runs, point: Any, positive: bool = True, *, wait: bool = True
) -> Bbox | None | Future[Outcome]:
    """Prompt with a point ``(x, y, z)`` in voxel coordinates; return the changed bbox."""
    return self.run_prompt(point_prompt(point, positive), wait)


@overload
def add_box(
    self: Runs,
    box: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[True] = ...,
) -> Bbox | None: ...
@overload
def add_box(
    self: Runs,
    box: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[False],
) -> Future[Outcome]: ...
def add_box(
    self: Runs,
    box: Any,
    positive: bool = True,
    *,
    axis: int | None = None,
    index: int | None = None,
    wait: bool = True,
) -> Bbox | None | Future[Outcome]:
    """Prompt with a box: a half-open volume box ``[[x0, x1], [y0, y1], [z0, z1]]`` (one axis
    of size 1 for the v1.0 model), or with ``axis`` and ``index`` two in-plane corners
    ``[(p0, q0), (p1, q1)]`` on that slice (inclusive, as a browser box)."""
    prompt = box_prompt(box, positive, axis, index)
    return self.run_prompt(prompt, wait)


@overload
def add_scribble(
    self: Runs,
    stroke: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[True] = ...,
) -> Bbox | None: ...
@overload
def add_scribble(
    self: Runs,
    stroke: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[False],
) -> Future[Outcome]: ...
def add_scribble(
    self: Runs,
    stroke: Any,
    positive: bool = True,
    *,
    axis: int | None = None,
    index: int | None = None,
    wait: bool = True,
) -> Bbox | None | Future[Outcome]:
    """Prompt with a scribble: a full-volume 0/1 mask ``[X, Y, Z]``, or with ``axis`` and
    ``index`` a polyline ``[(p, q), ...]`` on that slice, drawn as a browser scribble is."""
    prompt = gesture_prompt("scribble", stroke, positive, axis, index)
    return self.run_prompt(prompt, wait)


@overload
def add_lasso(
    self: Runs,
    outline: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[True] = ...,
) -> Bbox | None: ...
@overload
def add_lasso(
    self: Runs,
    outline: Any,
    positive: bool = ...,
    *,
    axis: int | None = ...,
    index: int | None = ...,
    wait: Literal[False],
) -> Future[Outcome]: ...
def add_lasso(
    self: Runs,
    outline: Any,
    positive: bool = True,
    *,
    axis: int | None = None,
    index: int | None = None,
    wait: bool = True,
) -> Bbox | None | Future[Outcome]:
    """Prompt with a lasso: a full-volume *filled* 0/1 mask, or with ``axis`` and ``index``
    a closed polygon ``[(p, q), ...]`` on that slice (voxel centres inside are filled)."""
    prompt = gesture_prompt("lasso", outline, positive, axis, index)
    return self.run_prompt(prompt, wait)


@overload
def add_mask(
    self: Runs, mask: Any, refine: bool = ..., *, wait: Literal[True] = ...
) -> Bbox | None: ...
@overload
def add_mask(
    self: Runs, mask: Any, refine: bool = ..., *, wait: Literal[False]
) -> Future[Outcome]: ...
def add_mask(
    self: Runs, mask: Any, refine: bool = False, *, wait: bool = True
) -> Bbox | None | Future[Outcome]:
    """Replace the active object's mask with ``mask`` ``[X, Y, Z]`` (nonzero = inside); later
    prompts continue from it; ``refine=True`` lets the model refine it first."""
    return self.run_prompt(mask_prompt(mask, refine), wait)


# ---- hand edits -------------------------------------------------------------------------------


@overload
def paint(
    self: Runs, points: Any, radius: Any, *, axis: int = ..., index: int,
    radius_unit: str = ..., wait: Literal[True] = ...,
) -> Bbox | None: ...  # fmt: skip
@overload
def paint(
    self: Runs, points: Any, radius: Any, *, axis: int = ..., index: int,
    radius_unit: str = ..., wait: Literal[False],
) -> Future[Outcome]: ...  # fmt: skip
def paint(
    self: Runs, points: Any, radius: Any, *, axis: int = 2, index: int,
    radius_unit: str = "voxel", wait: bool = True,
) -> Bbox | None | Future[Outcome]:  # fmt: skip
    """Paint a brush stroke into the active object: in-plane ``points`` ``[(p, q), ...]`` on
    slice ``index`` along ``axis``, a round brush of ``radius`` (``radius_unit`` ``"voxel"``
    or ``"mm"``); under ``"lock"`` it never takes other objects' voxels. One undoable step;
    the next prompt continues from the edited mask. Returns the changed bbox."""
    prompt = stroke_prompt("paint", points, radius, axis, index, radius_unit, self.spacing_mm)
    return self.run_prompt(prompt, wait)


@overload
def erase(
    self: Runs, points: Any, radius: Any, *, axis: int = ..., index: int,
    radius_unit: str = ..., wait: Literal[True] = ...,
) -> Bbox | None: ...  # fmt: skip
@overload
def erase(
    self: Runs, points: Any, radius: Any, *, axis: int = ..., index: int,
    radius_unit: str = ..., wait: Literal[False],
) -> Future[Outcome]: ...  # fmt: skip
def erase(
    self: Runs, points: Any, radius: Any, *, axis: int = 2, index: int,
    radius_unit: str = "voxel", wait: bool = True,
) -> Bbox | None | Future[Outcome]:  # fmt: skip
    """Erase a brush stroke from the active object (as :meth:`paint`); other objects are
    never touched."""
    prompt = stroke_prompt("erase", points, radius, axis, index, radius_unit, self.spacing_mm)
    return self.run_prompt(prompt, wait)


@overload
def fill(
    self: Runs, point: Any, *, axis: int = ..., index: int, wait: Literal[True] = ...
) -> Bbox | None: ...
@overload
def fill(
    self: Runs, point: Any, *, axis: int = ..., index: int, wait: Literal[False]
) -> Future[Outcome]: ...
def fill(
    self: Runs, point: Any, *, axis: int = 2, index: int, wait: bool = True
) -> Bbox | None | Future[Outcome]:
    """Fill on slice ``index`` along ``axis`` at the in-plane ``point`` ``(p, q)``: the
    4-connected region under it joins the active object, or, inside the active object, its
    holes on that slice are filled. Returns the changed bbox."""
    prompt = Prompt("fill", axis=axis, index=index, vertices=vertex_pairs([point]))
    return self.run_prompt(prompt, wait)


@overload
def fill_holes(self: Runs, *, wait: Literal[True] = ...) -> Bbox | None: ...
@overload
def fill_holes(self: Runs, *, wait: Literal[False]) -> Future[Outcome]: ...
def fill_holes(self: Runs, *, wait: bool = True) -> Bbox | None | Future[Outcome]:
    """Fill the active object's enclosed holes in 3-D."""
    return self.run_prompt(Prompt("fill_holes"), wait)


@overload
def keep_largest(self: Runs, *, wait: Literal[True] = ...) -> Bbox | None: ...
@overload
def keep_largest(self: Runs, *, wait: Literal[False]) -> Future[Outcome]: ...
def keep_largest(self: Runs, *, wait: bool = True) -> Bbox | None | Future[Outcome]:
    """Keep only the active object's largest 6-connected component."""
    return self.run_prompt(Prompt("keep_largest"), wait)


@overload
def remove_small(self: Runs, min_ml: float, *, wait: Literal[True] = ...) -> Bbox | None: ...
@overload
def remove_small(self: Runs, min_ml: float, *, wait: Literal[False]) -> Future[Outcome]: ...
def remove_small(self: Runs, min_ml: float, *, wait: bool = True) -> Bbox | None | Future[Outcome]:
    """Remove the active object's 6-connected components smaller than ``min_ml`` mL."""
    prompt = Prompt("remove_small", amount=min_ml)
    return self.run_prompt(prompt, wait)


@overload
def dilate(self: Runs, mm: float, *, wait: Literal[True] = ...) -> Bbox | None: ...
@overload
def dilate(self: Runs, mm: float, *, wait: Literal[False]) -> Future[Outcome]: ...
def dilate(self: Runs, mm: float, *, wait: bool = True) -> Bbox | None | Future[Outcome]:
    """Grow the active object by ``mm`` millimetres (Euclidean, with the voxel spacing)."""
    return self.run_prompt(Prompt("dilate", amount=mm), wait)


@overload
def erode(self: Runs, mm: float, *, wait: Literal[True] = ...) -> Bbox | None: ...
@overload
def erode(self: Runs, mm: float, *, wait: Literal[False]) -> Future[Outcome]: ...
def erode(self: Runs, mm: float, *, wait: bool = True) -> Bbox | None | Future[Outcome]:
    """Shrink the active object by ``mm`` millimetres (Euclidean, with the voxel spacing)."""
    return self.run_prompt(Prompt("erode", amount=mm), wait)


# ---- objects and history ----------------------------------------------------------------------


@overload
def new_object(
    self: Runs, name: str | None = ..., class_id: int | None = ..., *, wait: Literal[True] = ...
) -> int: ...
@overload
def new_object(
    self: Runs, name: str | None = ..., class_id: int | None = ..., *, wait: Literal[False]
) -> Future[Outcome]: ...
def new_object(
    self: Runs, name: str | None = None, class_id: int | None = None, *, wait: bool = True
) -> int | Future[Outcome]:
    """Finish the active object and start a new empty one; return its id."""
    result = self.run_item(Command("new_object", object_name=name, class_id=class_id), wait)
    return self.active_object if wait else result


def select_object(self: Runs, object_id: int, *, wait: bool = True) -> Any:
    """Make an object active again, so later prompts refine it."""
    return _changed(self, Command("select_object", object=object_id), wait)


def delete_object(self: Runs, object_id: int, *, wait: bool = True) -> Any:
    """Remove an object and its voxels (undoable)."""
    return _changed(self, Command("delete_object", object=object_id), wait)


def rename_object(
    self: Runs, object_id: int, name: str | None = None, class_id: int | None = None, *,
    wait: bool = True,
) -> Any:  # fmt: skip
    """Give an object a new name and/or class id (undoable; recorded in the log)."""
    command = Command("rename_object", object=object_id, object_name=name, class_id=class_id)
    return _changed(self, command, wait)


def reset_object(self: Runs, *, wait: bool = True) -> Any:
    """Clear the active object's mask and its prompts (undoable)."""
    return _changed(self, Command("reset_object"), wait)


def set_overlap(self: Runs, overlap: str, *, wait: bool = True) -> Any:
    """Set the overlap policy for later prompts: ``"lock"`` or ``"overwrite"``."""
    return _changed(self, Command("set_overlap", overlap=overlap), wait)


@overload
def undo(self: Runs, *, wait: Literal[True] = ...) -> bool: ...
@overload
def undo(self: Runs, *, wait: Literal[False]) -> Future[Outcome]: ...
def undo(self: Runs, *, wait: bool = True) -> bool | Future[Outcome]:
    """Undo the latest change of any object; return False when there was nothing to undo."""
    result = self.run_item(Command("undo"), wait)
    return bool(result.applied) if wait else result


@overload
def redo(self: Runs, *, wait: Literal[True] = ...) -> bool: ...
@overload
def redo(self: Runs, *, wait: Literal[False]) -> Future[Outcome]: ...
def redo(self: Runs, *, wait: bool = True) -> bool | Future[Outcome]:
    """Redo the latest undone change; return False when there was nothing to redo."""
    result = self.run_item(Command("redo"), wait)
    return bool(result.applied) if wait else result


def remove_prompt(self: Runs, index: int, object: int | None = None, *, wait: bool = True) -> Any:
    """Delete prompt ``index`` of an object (default the active one) and recompute it.

    ``index`` counts the prompts that still shape the object, as in :meth:`log` (negative
    counts from the end). One undoable step: :meth:`undo` brings back mask and prompt.

    Raises
    ------
    IndexError
        When the object has no prompt ``index``.
    """
    return _changed(self, Command("remove_prompt", object=object, index=index), wait)


# ---- building prompts -------------------------------------------------------------------------


def point_prompt(point: Any, positive: bool = True) -> Prompt:
    """A point prompt at voxel ``(x, y, z)``."""
    return Prompt("point", positive, point=tuple(point))


def box_prompt(box: Any, positive: bool, axis: int | None, index: int | None) -> Prompt:
    """A box prompt: a volume box, or with ``axis`` and ``index`` two corners on a slice."""
    if axis is None:
        return Prompt("box", positive, bbox=box)
    return Prompt("box", positive, axis=axis, index=index, vertices=vertex_pairs(box))


def gesture_prompt(
    tool: Tool, value: Any, positive: bool, axis: int | None, index: int | None
) -> Prompt:
    """A scribble or lasso prompt: a full-volume mask, or with ``axis`` and ``index`` vertices."""
    if axis is None:
        return Prompt(tool, positive, mask=MaskCrop.from_volume(value))
    return Prompt(tool, positive, axis=axis, index=index, vertices=vertex_pairs(value))


def stroke_prompt(
    tool: EditTool,
    points: Any,
    radius: Any,
    axis: int,
    index: int,
    radius_unit: str = "voxel",
    spacing_mm: Any = (1.0, 1.0, 1.0),
) -> Prompt:
    """A ``paint`` or ``erase`` stroke on slice ``index`` along ``axis``; a radius in ``"mm"``
    becomes voxels per in-plane axis with ``spacing_mm`` (what the prompt keeps)."""
    if radius_unit not in ("voxel", "mm"):
        raise ValueError(f"radius_unit must be 'voxel' or 'mm'; got {radius_unit!r}")
    if radius_unit == "mm":
        if axis not in (0, 1, 2):
            raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}")
        sizes = radius if isinstance(radius, (list, tuple, np.ndarray)) else (radius, radius)
        if len(sizes) != 2:
            raise ValueError(f"radius must be a number or (rp, rq); got {radius!r}")
        radius = tuple(
            float(size) / float(spacing_mm[a])
            for size, a in zip(sizes, plane_axes(axis), strict=True)
        )
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be [(p, q), ...] on the slice; got shape {points.shape}")
    return Prompt(tool, axis=axis, index=index, vertices=vertex_pairs(points), radius=radius)


def mask_prompt(mask: Any, refine: bool = False) -> Prompt:
    """A prompt that replaces the active object's mask with ``mask``."""
    return Prompt("mask", mask=MaskCrop.from_volume(mask), refine=refine)
