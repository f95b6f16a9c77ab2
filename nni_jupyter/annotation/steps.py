"""Undo records of the object store: what one step changed, encoded once, when it was written.

A :class:`Region` keeps, per object whose voxels changed inside its bbox, the object's 0/1 mask
there before and after the change, in the wire encoding (``packbits-deflate``,
:func:`~.codec.encode_mask`). The same bytes serve undo, redo and the browser's mask patches, and
the changed ids are known when the region is recorded, never found by decoding it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..core.regions import Bbox
from .codec import decode_mask, encode_mask

if TYPE_CHECKING:
    from .objects import ObjectInfo


@dataclass(frozen=True)
class Region:
    """A changed region of the owner map.

    Per object whose voxels changed inside ``bbox``, its 0/1 mask in the bbox before and after the
    change, ``packbits-deflate`` encoded (:func:`~.codec.encode_mask`, the wire encoding).
    """

    bbox: Bbox
    before: dict[int, bytes]
    after: dict[int, bytes]


@dataclass
class Step:
    """One undoable change: regions of the owner map plus the object table and active id."""

    label: str
    objects_before: dict[int, ObjectInfo]
    active_before: int
    regions: list[Region] = field(default_factory=list)
    objects_after: dict[int, ObjectInfo] | None = None
    active_after: int | None = None

    def after(self) -> tuple[dict[int, ObjectInfo], int]:
        """The object table and active id after the step (set when the step closed)."""
        if self.objects_after is None or self.active_after is None:
            raise RuntimeError(f"step {self.label!r} is still open: it has no state after it")
        return self.objects_after, self.active_after


@dataclass(frozen=True)
class Change:
    """What a step (or its undo) changed.

    ``masks``: per changed region, its bbox and the encoded masks (as they are now, inside the
    bbox) of the objects whose voxels changed there; ``objects_changed``: whether the object table
    changed.
    """

    masks: list[tuple[Bbox, dict[int, bytes]]]
    objects_changed: bool

    @property
    def regions(self) -> list[tuple[Bbox, tuple[int, ...]]]:
        """The changed regions and, per region, the ids whose masks changed there (ascending)."""
        return [(bbox, tuple(sorted(masks))) for bbox, masks in self.masks]

    @property
    def bbox(self) -> Bbox | None:
        """The union of the changed regions, or None."""
        if not self.masks:
            return None
        boxes = [b for b, _ in self.masks]
        return [[min(b[a][0] for b in boxes), max(b[a][1] for b in boxes)] for a in range(3)]


def record(
    bbox: Bbox, before: np.ndarray, after: np.ndarray, changed: np.ndarray
) -> tuple[Region, dict[int, int]]:
    """Encode a change of the owner map inside ``bbox``.

    Parameters
    ----------
    bbox
        Where the crops lie in the owner map.
    before, after
        The owner crops before and after the change.
    changed
        ``before != after`` (already computed by the caller).

    Returns
    -------
    The region, and per changed object id its voxel count change.
    """
    ids = [int(i) for i in np.union1d(before[changed], after[changed]) if i != 0]
    masks = {i: (before == i, after == i) for i in ids}
    region = Region(
        bbox,
        {i: encode_mask(was) for i, (was, _) in masks.items()},
        {i: encode_mask(now) for i, (_, now) in masks.items()},
    )
    deltas = {
        i: int(np.count_nonzero(now)) - int(np.count_nonzero(was))
        for i, (was, now) in masks.items()
    }
    return region, deltas


def paint(view: np.ndarray, masks: dict[int, bytes]) -> dict[int, int]:
    """Give the objects in ``masks`` exactly those masks inside the owner crop ``view`` (in place).

    Returns per object id its voxel count change.
    """
    decoded = {i: decode_mask(data, view.shape).astype(bool) for i, data in masks.items()}
    deltas = {
        i: int(np.count_nonzero(mask)) - int(np.count_nonzero(view == i))
        for i, mask in decoded.items()
    }
    # every changed voxel belonged to one of these objects before or after: clearing theirs and
    # painting their masks reproduces the other side of the change exactly
    view[np.isin(view, list(decoded))] = 0
    for object_id, mask in decoded.items():
        view[mask] = object_id
    return deltas
