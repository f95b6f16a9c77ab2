"""Hand edits of the active object, applied to the :class:`~.objects.ObjectStore`.

Each function runs inside one store step and writes the active object's new mask through
:meth:`~.objects.ObjectStore.write_active`, so every edit follows the overlap policy (``"lock"``:
it never takes another object's voxels) and only reads and writes the box it touches (a lazy
image's sparse owner map gets only the chunks the edit covers):

- ``paint``: the active object plus the brush stroke;
- ``erase``: the active object minus the stroke (other objects are never touched);
- ``fill`` at a voxel of a slice: the 4-connected region of that voxel's owner (background or
  another object) on the slice joins the active object (another object's region is refused under
  ``"lock"``); at a voxel of the active object, its holes on that slice are filled;
- ``fill_holes``, ``keep_largest`` (6-connected), ``remove_small`` (components under ``amount``
  mL; the voxel volume from the spacing), ``dilate`` and ``erode`` (by ``amount`` mm, with a
  Euclidean distance transform in mm): 3-D clean-ups of the active object with scipy.ndimage.

``dilate`` adds the voxels whose centre lies within ``amount`` mm of the object's;
``erode`` removes those within ``amount`` mm of a background voxel's centre (outside the image
counts as background).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from ..core.gestures import plane_axes
from ..core.regions import Bbox, from_local, nonzero_bbox, to_slices
from .objects import ObjectStore
from .raster import Interaction


def apply_edit(store: ObjectStore, edit: Interaction, spacing: Sequence[float]) -> None:
    """Apply ``edit`` to the store's active object (inside an open step).

    Raises
    ------
    ValueError
        When the edit is meant for another object than the active one (or one that is gone),
        when a fill would take a locked object's region, or when a 3-D clean-up finds the object
        empty. Nothing is changed then (the step rolls back).
    """
    _check_object(store, edit)
    if edit.kind in ("paint", "erase"):
        _stroke(store, edit)
    elif edit.kind == "fill":
        _fill(store, edit)
    else:
        _clean_up(store, edit, [float(s) for s in spacing])


def _check_object(store: ObjectStore, edit: Interaction) -> None:
    if edit.object is None or edit.object == store.active:
        return
    if edit.object not in store.objects:
        raise ValueError(
            f"object {edit.object} no longer exists (deleted or undone): the {edit.kind} edit "
            "changed nothing"
        )
    raise ValueError(
        f"the {edit.kind} edit was meant for object {edit.object}, but object {store.active} is "
        "active now: select it and edit again"
    )


def _stroke(store: ObjectStore, edit: Interaction) -> None:
    if edit.bbox is None or edit.crop is None:
        raise ValueError(f"a {edit.kind} edit needs its stroke; got none")
    active = store.owner[to_slices(edit.bbox)] == store.active
    stroke = edit.crop != 0
    new = active | stroke if edit.kind == "paint" else active & ~stroke
    store.write_active(edit.bbox, new.astype(np.uint8))


def _fill(store: ObjectStore, edit: Interaction) -> None:
    if edit.point is None or edit.axis is None:
        raise ValueError("a fill edit needs its voxel and axis; got none")
    axis, voxel = edit.axis, [int(v) for v in edit.point]
    p_axis, q_axis = plane_axes(axis)
    plane_box: Bbox = [[0, n] for n in store.shape]
    plane_box[axis] = [voxel[axis], voxel[axis] + 1]
    plane = np.take(store.owner[to_slices(plane_box)], 0, axis=axis)
    clicked = int(plane[voxel[p_axis], voxel[q_axis]])
    active = plane == store.active
    if clicked == store.active:
        region = ndimage.binary_fill_holes(active) & ~active
    else:
        if clicked != 0 and store.overlap == "lock":
            raise ValueError(
                f"the region under the fill belongs to object {clicked}, which the overlap "
                "policy 'lock' keeps: set overlap to 'overwrite' to fill over it"
            )
        labels, _ = ndimage.label(plane == clicked)  # 4-connected in 2-D
        region = labels == labels[voxel[p_axis], voxel[q_axis]]
    local = nonzero_bbox(region)
    if local is None:
        return  # no hole on this slice: an empty step
    sub = to_slices(local)
    box2d = from_local(local, [[0, plane.shape[0]], [0, plane.shape[1]]])
    bbox = [list(pair) for pair in plane_box]
    bbox[p_axis], bbox[q_axis] = box2d
    new = np.expand_dims((active[sub] | region[sub]).astype(np.uint8), axis)
    store.write_active(bbox, new)


def _clean_up(store: ObjectStore, edit: Interaction, spacing: list[float]) -> None:
    box = store.object_bbox(store.active)
    if box is None:
        raise ValueError(f"object {store.active} is empty: {edit.kind} needs voxels to work on")
    if edit.kind == "dilate":
        margin = [math.ceil(_amount(edit) / s) for s in spacing]
        box = [
            [max(lo - m, 0), min(hi + m, n)]
            for (lo, hi), m, n in zip(box, margin, store.shape, strict=True)
        ]
    mask = store.owner[to_slices(box)] == store.active
    store.write_active(box, _cleaned(mask, edit, spacing).astype(np.uint8))


def _cleaned(mask: np.ndarray, edit: Interaction, spacing: list[float]) -> np.ndarray:
    """The active object's new mask inside its box."""
    if edit.kind == "fill_holes":
        filled: np.ndarray = ndimage.binary_fill_holes(mask)
        return filled
    if edit.kind == "dilate":
        distance = ndimage.distance_transform_edt(~mask, sampling=spacing)
        return np.asarray(distance <= _amount(edit))
    if edit.kind == "erode":
        padded = np.pad(mask, 1)  # outside the box (and the image) is background
        distance = ndimage.distance_transform_edt(padded, sampling=spacing)
        return np.asarray(distance[1:-1, 1:-1, 1:-1] > _amount(edit))
    labels, count = ndimage.label(mask)  # 6-connected
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    if edit.kind == "keep_largest":
        return np.asarray(labels == int(np.argmax(sizes)))
    if edit.kind == "remove_small":
        voxel_ml = float(np.prod(spacing)) / 1000.0
        keep = sizes * voxel_ml >= _amount(edit)
        keep[0] = False
        return np.asarray(keep[labels])
    raise ValueError(f"not an edit: {edit.kind}")


def _amount(edit: Interaction) -> float:
    if edit.amount is None:
        raise ValueError(f"a {edit.kind} edit needs its amount; got none")
    return edit.amount
