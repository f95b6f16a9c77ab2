"""Gestures to voxels: turn a :class:`Prompt` into the exact interaction the session receives.

The rules (also in PROTOCOL.md, "Rasterization"), in in-plane coordinates ``(p, q)`` of slice
``index`` along ``axis``, where the centre of voxel ``k`` is at ``k``:

- point: voxel ``(round(p), round(q))`` (rounding half up); an error when outside the slice;
- box: voxels ``round(min)..round(max)`` inclusive on both axes, clipped, one voxel deep;
- scribble and lasso: one voxel deep, in-plane by :mod:`nni_jupyter.core.gestures`, the
  rasterizer the evaluation and the demo trainer use too.

Volume-form prompts (from Python) are checked against the image shape and passed through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..core.gestures import lasso_region, plane_axes, round_half_up, scribble_region
from ..core.regions import Bbox
from .brush import stroke_region
from .prompts import EDIT_TOOLS, EditTool, Prompt, Tool

InteractionKind = Literal["point", "bbox", "scribble", "lasso", "initial_seg", EditTool]
#: the interaction each tool drawn as a mask (a scribble, a lasso, or a mask from Python) becomes
_MASK_KINDS: dict[Tool, InteractionKind] = {
    "scribble": "scribble",
    "lasso": "lasso",
    "mask": "initial_seg",
}


@dataclass(frozen=True)
class Interaction:
    """What the session is called with.

    ``point`` for ``kind="point"`` (voxel coordinates); ``bbox`` for ``"bbox"`` (half-open) and for
    the mask kinds (the crop's bbox); ``crop`` (uint8 0/1, the bbox's shape) for ``"scribble"``,
    ``"lasso"`` and ``"initial_seg"`` (None there means an empty mask).

    Edits (kinds of :data:`~.prompts.EDIT_TOOLS`): ``paint`` and ``erase`` have ``bbox`` and
    ``crop`` (the brush stroke); ``fill`` has ``point`` (a voxel) and ``axis`` (its slice's
    axis); ``remove_small``, ``dilate`` and ``erode`` have ``amount``; ``object`` is the object
    an edit is meant for (None: the active one).
    """

    kind: InteractionKind
    positive: bool
    point: tuple[float, float, float] | None = None
    bbox: Bbox | None = None
    crop: np.ndarray | None = None
    refine: bool = False
    axis: int | None = None
    amount: float | None = None
    object: int | None = None

    @property
    def is_edit(self) -> bool:
        """Whether this is a hand edit (applied to the objects, not sent to the session)."""
        return self.kind in EDIT_TOOLS


def rasterize(
    prompt: Prompt, shape: tuple[int, int, int], thickness: Sequence[float] = (2, 2, 2)
) -> Interaction:
    """Turn ``prompt`` into an :class:`Interaction` for an image of spatial ``shape``.

    Parameters
    ----------
    prompt
        The prompt, in slice or volume form.
    shape
        ``(X, Y, Z)``.
    thickness
        Scribble width per volume axis in voxels (the session's ``preferred_scribble_thickness``).

    Raises
    ------
    ValueError
        When the prompt does not fit the image, or covers no voxel.
    """
    image_shape = tuple(int(s) for s in shape)
    if prompt.tool in EDIT_TOOLS and prompt.vertices is None:
        return Interaction(prompt.tool, True, amount=prompt.amount, object=prompt.object)
    if prompt.vertices is not None:
        return _rasterize_gesture(prompt, image_shape, thickness)
    if prompt.point is not None:
        for axis, (value, size) in enumerate(zip(prompt.point, image_shape, strict=True)):
            # the session rounds with Python's round(); check with the same rule
            if not 0 <= round(value) < size:
                raise ValueError(
                    f"point {prompt.point} is outside the image (axis {axis}: 0..{size - 1})"
                )
        return Interaction("point", bool(prompt.positive), point=prompt.point)
    if prompt.bbox is not None:
        for axis, ((lo, hi), size) in enumerate(zip(prompt.bbox, image_shape, strict=True)):
            if lo < 0 or hi > size:
                raise ValueError(
                    f"bbox {[list(b) for b in prompt.bbox]} exceeds the image on axis {axis} "
                    f"(0..{size}); bboxes are half-open [[x0, x1], [y0, y1], [z0, z1]]"
                )
        return Interaction("bbox", bool(prompt.positive), bbox=[list(b) for b in prompt.bbox])
    mask = prompt.mask
    assert mask is not None, "Prompt.__post_init__ requires one of vertices, point, bbox or mask"
    if mask.shape != image_shape:
        raise ValueError(f"mask shape {mask.shape} must equal the image shape {image_shape}")
    kind = _MASK_KINDS[prompt.tool]
    if mask.bbox is None:
        if kind != "initial_seg":
            raise ValueError(f"the {prompt.tool} mask is empty: mark at least one voxel")
        return Interaction(kind, True, refine=prompt.refine)
    return Interaction(
        kind,
        bool(prompt.positive),
        bbox=[list(b) for b in mask.bbox],
        crop=mask.crop(),
        refine=prompt.refine,
    )


def _rasterize_gesture(
    prompt: Prompt, shape: tuple[int, ...], thickness: Sequence[float]
) -> Interaction:
    axis, index = prompt.axis, prompt.index
    assert axis is not None and index is not None, "Prompt requires them with vertices"
    if not 0 <= index < shape[axis]:
        raise ValueError(f"slice index {index} is outside axis {axis} (0..{shape[axis] - 1})")
    p_axis, q_axis = plane_axes(axis)
    plane = (shape[p_axis], shape[q_axis])
    vertices = np.asarray(prompt.vertices, dtype=np.float64)
    positive = bool(prompt.positive)
    if prompt.tool in ("point", "fill"):
        p, q = (int(v) for v in round_half_up(vertices[0]))
        if not (0 <= p < plane[0] and 0 <= q < plane[1]):
            raise ValueError(
                f"{prompt.tool} ({vertices[0][0]}, {vertices[0][1]}) is outside the slice "
                f"(p 0..{plane[0] - 1}, q 0..{plane[1] - 1})"
            )
        point = [0.0, 0.0, 0.0]
        point[axis], point[p_axis], point[q_axis] = float(index), float(p), float(q)
        x, y, z = point
        if prompt.tool == "fill":
            return Interaction("fill", True, point=(x, y, z), axis=axis, object=prompt.object)
        return Interaction("point", positive, point=(x, y, z))
    if prompt.tool == "box":
        lo = np.maximum(round_half_up(vertices.min(axis=0)), 0)
        hi = np.minimum(round_half_up(vertices.max(axis=0)) + 1, plane)
        if np.any(hi <= lo):
            raise ValueError(f"box {vertices.tolist()} lies outside the slice {plane}")
        bbox = [[0, 0], [0, 0], [0, 0]]
        bbox[axis] = [index, index + 1]
        bbox[p_axis] = [int(lo[0]), int(hi[0])]
        bbox[q_axis] = [int(lo[1]), int(hi[1])]
        return Interaction("bbox", positive, bbox=bbox)
    if prompt.tool == "scribble":
        t_plane = (float(thickness[p_axis]), float(thickness[q_axis]))
        region = scribble_region(vertices, plane, t_plane)
    elif prompt.radius is not None:  # paint, erase
        region = stroke_region(vertices, prompt.radius, plane)
    else:
        region = lasso_region(vertices, plane)
    if region is None:
        raise ValueError(
            f"the {prompt.tool} covers no voxel of the slice; draw it inside the image"
        )
    origin, crop2d = region
    bbox = [[0, 0], [0, 0], [0, 0]]
    bbox[axis] = [index, index + 1]
    bbox[p_axis] = [origin[0], origin[0] + crop2d.shape[0]]
    bbox[q_axis] = [origin[1], origin[1] + crop2d.shape[1]]
    crop = np.expand_dims(crop2d.astype(np.uint8), axis)
    if prompt.tool in ("paint", "erase"):
        return Interaction(prompt.tool, True, bbox=bbox, crop=crop, object=prompt.object)
    return Interaction(_MASK_KINDS[prompt.tool], positive, bbox=bbox, crop=crop)
