"""Objects: per-object masks, names, colours and class ids, with multi-level undo/redo.

Under either overlap policy a voxel belongs to at most one object (``"lock"``: a prediction never
takes voxels of another object; ``"overwrite"``: it takes them), so the store keeps one ``owner``
map (0 = background, else the object id: uint8 while every id is at most 255, promoted to uint16
when a larger id is created, for up to 65535 objects) and derives every view from it: one
object's mask, the instance map, the semantic map (class ids) and separate masks.

The owner map is a numpy array, or with ``sparse=True`` (images larger than memory) a
:class:`~nni_jupyter.volumes.SparseVolume` that holds only the chunks objects touch; every
change reads a box and writes it back, so both kinds take the same path, and the whole-map views
of a sparse store are read-only sparse snapshots made chunk by chunk.

Every change is a :class:`~.steps.Step` holding the changed regions of the owner map and the object
table before and after, so undo and redo walk back and forth across all objects (see :mod:`.steps`).

:meth:`ObjectStore.export` and :meth:`ObjectStore.load` are the one serialization of the store;
:meth:`ObjectInfo.to_dict` is the one serialization of an object's metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.regions import Bbox, bbox_shape, from_local, nonzero_bbox, to_slices
from ..palette import PALETTE
from ..volumes.sparse import SparseVolume
from .prompts import MAX_CLASS_ID, MAX_OBJECT_ID, OVERLAP_POLICIES, check_name
from .steps import Change, Step, paint, record

AGGREGATIONS = ("instance", "semantic", "separate")
#: The owner map's dtypes: uint8 while every object id fits, else uint16.
OWNER_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
#: The owner map, and what the whole-map views return: dense, or sparse for lazy images.
Volume = np.ndarray | SparseVolume


@dataclass(frozen=True)
class ObjectInfo:
    """One object's metadata; ``id`` is 1..65535 and is its value in the instance map."""

    id: int
    name: str
    color: tuple[int, int, int]
    class_id: int
    visible: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able form (the ``objects`` trait and the save file)."""
        return {
            "id": self.id,
            "name": self.name,
            "color": list(self.color),
            "class_id": self.class_id,
            "visible": self.visible,
        }

    @classmethod
    def from_dict(cls, value: Any) -> ObjectInfo:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            When ``value`` is not such a dict or its id is outside 1..65535.
        """
        try:
            info = cls(
                id=int(value["id"]),
                name=str(check_name(str(value["name"]))),
                color=tuple(int(c) for c in value["color"]),  # type: ignore[arg-type]
                class_id=int(value["class_id"]),
                visible=bool(value.get("visible", True)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                "an object must be {id, name, color [r, g, b], class_id, visible}; "
                f"got {value!r} ({type(exc).__name__}: {exc})"
            ) from exc
        if not 1 <= info.id <= MAX_OBJECT_ID:
            raise ValueError(f"an object's id must be in 1..{MAX_OBJECT_ID}; got {value!r}")
        if len(info.color) != 3 or not all(0 <= c <= 255 for c in info.color):
            raise ValueError(f"an object's colour must be [r, g, b] in 0..255; got {value!r}")
        if not 0 <= info.class_id <= MAX_CLASS_ID:
            raise ValueError(f"an object's class_id must be in 0..{MAX_CLASS_ID}; got {value!r}")
        return info


class ObjectStore:
    """Objects over one image, with an overlap policy and multi-level undo/redo.

    Parameters
    ----------
    shape
        The image's spatial shape ``(X, Y, Z)``.
    overlap
        ``"lock"`` (default) or ``"overwrite"``.
    max_undo
        Steps kept for undo; the oldest are dropped beyond it.
    sparse
        Keep the owner map as a :class:`~nni_jupyter.volumes.SparseVolume` (memory only where
        objects are); its whole-map views are then read-only sparse snapshots.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        overlap: str = "lock",
        max_undo: int = 100,
        sparse: bool = False,
    ):
        self.shape = tuple(int(s) for s in shape)
        self.owner: Volume = (
            SparseVolume(self.shape, np.uint8) if sparse else np.zeros(self.shape, dtype=np.uint8)
        )
        self.objects: dict[int, ObjectInfo] = {}
        self.voxels: dict[int, int] = {}
        self.overlap = _check_overlap(overlap)
        self.max_undo = max_undo
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._step: Step | None = None
        self.active = self._add_object(None, None)

    # ---- reading ------------------------------------------------------------------------------

    @property
    def sparse(self) -> bool:
        """Whether the owner map is sparse."""
        return isinstance(self.owner, SparseVolume)

    def mask(self, object_id: int | None = None) -> Volume:
        """Return one object's mask as uint8 0/1 (default: the active object)."""
        wanted = self.active if object_id is None else object_id
        if isinstance(self.owner, SparseVolume):
            return self.owner.map_chunks(lambda chunk: chunk == wanted, np.uint8, read_only=True)
        selected: np.ndarray = self.owner == wanted
        return selected.astype(np.uint8)

    def instance_map(self) -> Volume:
        """Return all objects as uint16 object ids (0 = background)."""
        if isinstance(self.owner, SparseVolume):
            return self.owner.astype(np.uint16, read_only=True)
        return self.owner.astype(np.uint16)

    def aggregate(self, mode: str = "instance") -> Volume | dict[int, Volume]:
        """Return the objects combined: ``"instance"`` (uint16 object ids), ``"semantic"`` (uint16
        class ids) or ``"separate"`` (dict id -> uint8 mask)."""
        if mode == "instance":
            return self.instance_map()
        if mode == "semantic":
            lut = np.zeros(int(np.iinfo(self.owner.dtype).max) + 1, dtype=np.uint16)
            for info in self.objects.values():
                lut[info.id] = info.class_id
            if isinstance(self.owner, SparseVolume):
                return self.owner.map_chunks(lambda chunk: lut[chunk], np.uint16, read_only=True)
            return lut[self.owner]
        if mode == "separate":
            return {object_id: self.mask(object_id) for object_id in self.objects}
        raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {mode!r}")

    def object_bbox(self, object_id: int) -> Bbox | None:
        """Return the bbox of an object's voxels, or None when it has none."""
        if self.voxels.get(object_id, 0) == 0:
            return None
        if isinstance(self.owner, SparseVolume):
            return self.owner.nonzero_bbox(object_id)
        return nonzero_bbox(self.owner == object_id)

    # ---- changing (each call inside one step) -------------------------------------------------

    @contextmanager
    def step(self, label: str) -> Iterator[Step]:
        """Group the changes made inside the block into one undoable step."""
        if self._step is not None:
            raise RuntimeError("steps do not nest")
        self._step = Step(label, dict(self.objects), self.active)
        try:
            yield self._step
        except BaseException:
            self._rollback(self._step)
            raise
        finally:
            step, self._step = self._step, None
        step.objects_after, step.active_after = dict(self.objects), self.active
        self._undo.append(step)
        del self._undo[: -self.max_undo]
        self._redo.clear()

    def set_overlap(self, overlap: str) -> None:
        """Set the overlap policy for later writes (not a step)."""
        self.overlap = _check_overlap(overlap)

    @contextmanager
    def overlap_as(self, overlap: str) -> Iterator[None]:
        """Write under ``overlap`` inside the block (a prompt recomputed under its own policy)."""
        kept, self.overlap = self.overlap, _check_overlap(overlap)
        try:
            yield
        finally:
            self.overlap = kept

    def create(self, name: str | None = None, class_id: int | None = None) -> int:
        """Add an empty object and make it active; return its id."""
        check_name(name)
        self._open_step()
        self.active = self._add_object(name, class_id)
        return self.active

    def delete(self, object_id: int) -> None:
        """Remove an object and its voxels; the newest left (or a new one) becomes active."""
        self._open_step()
        self._require_object(object_id)
        bbox = self.object_bbox(object_id)
        if bbox is not None:
            crop = self.owner[to_slices(bbox)]
            self._write(bbox, np.where(crop == object_id, 0, crop).astype(self.owner.dtype))
        del self.objects[object_id]
        self.voxels.pop(object_id, None)
        if self.active == object_id:
            self.active = max(self.objects) if self.objects else self._add_object(None, None)

    def rename(self, object_id: int, name: str | None, class_id: int | None) -> None:
        """Give an object a new name and/or class id (None keeps it)."""
        check_name(name)
        self._open_step()
        self._require_object(object_id)
        info = self.objects[object_id]
        self.objects[object_id] = ObjectInfo(
            info.id,
            info.name if name is None else name,
            info.color,
            info.class_id if class_id is None else int(class_id),
            info.visible,
        )

    def select(self, object_id: int) -> None:
        """Make an object active (not a step on its own)."""
        self._require_object(object_id)
        self.active = object_id

    def write_active(self, bbox: Bbox, prediction: np.ndarray) -> None:
        """Write the active object's 0/1 ``prediction`` inside ``bbox`` under the overlap policy.

        Voxels of the active object outside the prediction are released; with ``"lock"`` the
        prediction only takes background voxels, with ``"overwrite"`` it also takes other objects'.
        """
        self._open_step()
        crop = self.owner[to_slices(bbox)]
        new = crop.copy()
        predicted = np.asarray(prediction) != 0
        new[(crop == self.active) & ~predicted] = 0
        takes = predicted if self.overlap == "overwrite" else predicted & (crop == 0)
        new[takes] = self.active
        self._write(bbox, new)

    def clear_active(self) -> None:
        """Remove every voxel of the active object."""
        self._open_step()
        bbox = self.object_bbox(self.active)
        if bbox is not None:
            self.write_active(bbox, np.zeros(bbox_shape(bbox), dtype=np.uint8))

    # ---- undo / redo --------------------------------------------------------------------------

    def undo(self) -> Change | None:
        """Revert the latest step; return what changed, or None when there is nothing to undo."""
        if not self._undo:
            return None
        step = self._undo.pop()
        change = self._apply(step, forward=False)
        self._redo.append(step)
        return change

    def redo(self) -> Change | None:
        """Re-apply the latest undone step; return what changed, or None when there is none."""
        if not self._redo:
            return None
        step = self._redo.pop()
        change = self._apply(step, forward=True)
        self._undo.append(step)
        return change

    def change_of(self, step: Step) -> Change:
        """Describe what ``step`` changed (for a step just committed)."""
        return Change(
            [(region.bbox, region.after) for region in step.regions],
            step.objects_before != step.objects_after,
        )

    # ---- the state as plain values ------------------------------------------------------------

    def export(self) -> tuple[Volume, dict[str, Any]]:
        """Return the store's state as ``(owner, table)``; :meth:`load` inverts it.

        ``owner`` is a copy of the owner map ``[X, Y, Z]`` (uint8, or uint16 once an id above
        255 was created; a sparse store's copy is a SparseVolume sharing its chunks);
        ``table`` is JSON-able:
        ``{"objects": [ObjectInfo.to_dict(), ...], "active_object": id, "overlap": policy}``.
        The undo history is not part of it.
        """
        table = {
            "objects": [info.to_dict() for info in self.objects.values()],
            "active_object": self.active,
            "overlap": self.overlap,
        }
        return self.owner.copy(), table

    def load(self, owner: Volume, table: dict[str, Any]) -> None:
        """Replace the whole state with an exported one; the undo history starts empty.

        Raises
        ------
        ValueError
            When ``owner`` is not uint8 or uint16 of the store's shape, or ``table`` is malformed
            or does not match it (an active id without an object, label values without an object).
        """
        if self._step is not None:
            raise RuntimeError("load replaces the whole state: not inside a step")
        state = check_state(owner, table, self.shape, self.overlap)
        if isinstance(self.owner, SparseVolume):
            self.owner = (
                owner.copy() if isinstance(owner, SparseVolume) else SparseVolume.from_array(owner)
            )
        else:
            self.owner = np.array(owner, copy=True)
        self.objects = state.objects
        self.voxels = state.voxels
        self.active = state.active
        self.overlap = state.overlap
        self._undo.clear()
        self._redo.clear()

    # ---- internals ----------------------------------------------------------------------------

    def _apply(self, step: Step, forward: bool) -> Change:
        regions = step.regions if forward else list(reversed(step.regions))
        changed = []
        for region in regions:
            masks = region.after if forward else region.before
            self._add_voxels(self._paint(region.bbox, masks))
            changed.append((region.bbox, masks))
        objects, active = step.after() if forward else (step.objects_before, step.active_before)
        self.objects, self.active = dict(objects), active
        for object_id in self.objects:
            self.voxels.setdefault(object_id, 0)
        for object_id in list(self.voxels):
            if object_id not in self.objects:
                del self.voxels[object_id]
        return Change(changed, step.objects_before != step.objects_after)

    def _write(self, bbox: Bbox, new: np.ndarray) -> None:
        crop = self.owner[to_slices(bbox)]  # a view of a dense map, a copy of a sparse one
        diff = crop != new
        local = nonzero_bbox(diff)
        if local is None:
            return
        sub = to_slices(local)
        changed = from_local(local, bbox)
        region, deltas = record(changed, crop[sub], new[sub], diff[sub])
        self._add_voxels(deltas)
        self.owner[to_slices(changed)] = new[sub]
        self._open_step().regions.append(region)

    def _paint(self, bbox: Bbox, masks: dict[int, bytes]) -> dict[int, int]:
        """:func:`~.steps.paint` the owner map inside ``bbox``; return the voxel count changes."""
        crop = self.owner[to_slices(bbox)]
        deltas = paint(crop, masks)
        if isinstance(self.owner, SparseVolume):  # the crop was a copy: write it back
            self.owner[to_slices(bbox)] = crop
        return deltas

    def _add_voxels(self, deltas: dict[int, int]) -> None:
        for object_id, delta in deltas.items():
            self.voxels[object_id] = self.voxels.get(object_id, 0) + delta

    def _rollback(self, step: Step) -> None:
        for region in reversed(step.regions):
            self._add_voxels(self._paint(region.bbox, region.before))
        self.objects = dict(step.objects_before)
        self.active = step.active_before
        self.voxels = {i: self.voxels.get(i, 0) for i in self.objects}

    def _add_object(self, name: str | None, class_id: int | None) -> int:
        taken = set(self.objects) | self._ids_in_history()
        object_id = next((i for i in range(1, MAX_OBJECT_ID + 1) if i not in taken), None)
        if object_id is None:
            raise ValueError(
                f"at most {MAX_OBJECT_ID} objects fit the label map (ids still held by undo "
                "history count too); delete objects and start a new Segmenter"
            )
        if object_id > np.iinfo(self.owner.dtype).max:
            # inside the creating step: a failed step keeps the wider map, which is harmless
            self.owner = self.owner.astype(np.uint16)
        self.objects[object_id] = ObjectInfo(
            id=object_id,
            name=name if name else f"object {object_id}",
            color=PALETTE[(object_id - 1) % len(PALETTE)],
            class_id=object_id if class_id is None else int(class_id),
        )
        self.voxels[object_id] = 0
        return object_id

    def _ids_in_history(self) -> set[int]:
        # ids that undo/redo could bring back must not be handed out again
        ids: set[int] = set()
        for step in (*self._undo, *self._redo):
            ids.update(step.objects_before)
            ids.update(step.objects_after or ())
        return ids

    def _open_step(self) -> Step:
        if self._step is None:
            raise RuntimeError("changes must be made inside `with store.step(...)`")
        return self._step

    def _require_object(self, object_id: int) -> None:
        if object_id not in self.objects:
            raise ValueError(f"no object with id {object_id}; objects are {sorted(self.objects)}")


@dataclass(frozen=True)
class StoreState:
    """An exported state that passed :func:`check_state`, parsed."""

    objects: dict[int, ObjectInfo]
    active: int
    overlap: str
    voxels: dict[int, int]


def check_state(
    owner: Any, table: Any, shape: tuple[int, ...], default_overlap: str = "lock"
) -> StoreState:
    """Check an exported ``(owner, table)`` against an image of ``shape``; return it parsed
    (``owner`` dense or a :class:`~nni_jupyter.volumes.SparseVolume`).

    The one set of rules :meth:`ObjectStore.load` applies, usable before any store exists.

    Raises
    ------
    ValueError
        When ``owner`` is not uint8 or uint16 of ``shape``, or ``table`` is malformed or does
        not match it
        (an active id without an object, label values without an object).
    """
    if not isinstance(owner, SparseVolume):
        owner = np.asarray(owner)
    if owner.dtype not in OWNER_DTYPES or owner.shape != tuple(shape):
        raise ValueError(
            f"owner must be uint8 or uint16 of shape {tuple(shape)}; got {owner.dtype} "
            f"{owner.shape}"
        )
    if not isinstance(table, dict) or not isinstance(table.get("objects"), list):
        got = f"'objects': {table.get('objects')!r}" if isinstance(table, dict) else repr(table)
        raise ValueError(f"table must be a dict with an 'objects' list; got {got:.200}")
    objects = {info.id: info for info in map(ObjectInfo.from_dict, table["objects"])}
    active = table.get("active_object")
    if isinstance(owner, SparseVolume):
        counts = owner.counts()
    else:  # uint16: up to 65536 counters
        counts = dict(enumerate(np.bincount(owner.ravel(), minlength=256).tolist()))
    unknown = sorted({i for i, n in counts.items() if i != 0 and n} - set(objects))
    if active not in objects or unknown:
        raise ValueError(
            f"the state is inconsistent: active object {active!r}, objects "
            f"{sorted(objects)}, label values without an object {unknown}"
        )
    overlap = _check_overlap(table.get("overlap", default_overlap))
    voxels = {i: int(counts.get(i, 0)) for i in objects}
    return StoreState(objects, int(active), overlap, voxels)


def _check_overlap(overlap: str) -> str:
    if overlap not in OVERLAP_POLICIES:
        raise ValueError(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}; got {overlap!r}")
    return overlap
