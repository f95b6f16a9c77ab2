"""Gestures to voxels: turn a :class:`Prompt` into the exact interaction the session receives.

The rules (also in PROTOCOL.md, "Rasterization"), in in-plane coordinates ``(p, q)`` of slice
``index`` along ``axis``, where the centre of voxel ``k`` is at ``k``:

- rounding is half up, ``floor(v + 0.5)``, as JavaScript's ``Math.round``;
- point: voxel ``(round(p), round(q))``; an error when outside the slice;
- box: voxels ``round(min)..round(max)`` inclusive on both axes, clipped, one voxel deep;
- scribble: voxel ``k`` is in the stroke when a brush ``[c - t/2, c + t/2)`` centred on some point
  ``c`` of the polyline contains it (``t`` = the in-plane scribble thickness per axis);
- lasso: voxel centres inside the closed polygon (even-odd rule, half-open edges).

Volume-form prompts (from Python) are checked against the image shape and passed through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .codec import Bbox
from .prompts import Prompt

InteractionKind = Literal["point", "bbox", "scribble", "lasso", "initial_seg"]


@dataclass(frozen=True)
class Interaction:
    """What the session is called with.

    ``point`` for ``kind="point"`` (voxel coordinates); ``bbox`` for ``"bbox"`` (half-open) and for
    the mask kinds (the crop's bbox); ``crop`` (uint8 0/1, the bbox's shape) for ``"scribble"``,
    ``"lasso"`` and ``"initial_seg"`` (None there means an empty mask).
    """

    kind: InteractionKind
    positive: bool
    point: tuple[float, float, float] | None = None
    bbox: Bbox | None = None
    crop: np.ndarray | None = None
    refine: bool = False


def round_half_up(value: float | np.ndarray) -> np.ndarray:
    """Round half up, as JavaScript's ``Math.round``."""
    return np.floor(np.asarray(value, dtype=np.float64) + 0.5).astype(np.int64)


def plane_axes(axis: int) -> tuple[int, int]:
    """Return the volume axes ``(p, q)`` of a slice along ``axis`` (the other two, in order)."""
    return tuple(a for a in range(3) if a != axis)  # type: ignore[return-value]


def rasterize(prompt: Prompt, shape: tuple[int, int, int], thickness=(2, 2, 2)) -> Interaction:
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
    shape = tuple(int(s) for s in shape)
    if prompt.vertices is not None:
        return _rasterize_gesture(prompt, shape, thickness)
    if prompt.point is not None:
        for axis, (value, size) in enumerate(zip(prompt.point, shape, strict=True)):
            # the session rounds with Python's round(); check with the same rule
            if not 0 <= round(value) < size:
                raise ValueError(
                    f"point {prompt.point} is outside the image (axis {axis}: 0..{size - 1})"
                )
        return Interaction("point", bool(prompt.positive), point=prompt.point)
    if prompt.bbox is not None:
        for axis, ((lo, hi), size) in enumerate(zip(prompt.bbox, shape, strict=True)):
            if lo < 0 or hi > size:
                raise ValueError(
                    f"bbox {[list(b) for b in prompt.bbox]} exceeds the image on axis {axis} "
                    f"(0..{size}); bboxes are half-open [[x0, x1], [y0, y1], [z0, z1]]"
                )
        return Interaction("bbox", bool(prompt.positive), bbox=[list(b) for b in prompt.bbox])
    mask = prompt.mask
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} must equal the image shape {shape}")
    kind: InteractionKind = "initial_seg" if prompt.tool == "mask" else prompt.tool
    if mask.empty:
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


def _rasterize_gesture(prompt: Prompt, shape: tuple[int, ...], thickness) -> Interaction:
    axis, index = prompt.axis, prompt.index
    if not 0 <= index < shape[axis]:
        raise ValueError(f"slice index {index} is outside axis {axis} (0..{shape[axis] - 1})")
    p_axis, q_axis = plane_axes(axis)
    plane = (shape[p_axis], shape[q_axis])
    vertices = np.asarray(prompt.vertices, dtype=np.float64)
    positive = bool(prompt.positive)
    if prompt.tool == "point":
        p, q = (int(v) for v in round_half_up(vertices[0]))
        if not (0 <= p < plane[0] and 0 <= q < plane[1]):
            raise ValueError(
                f"point ({vertices[0][0]}, {vertices[0][1]}) is outside the slice "
                f"(p 0..{plane[0] - 1}, q 0..{plane[1] - 1})"
            )
        point = [0.0, 0.0, 0.0]
        point[axis], point[p_axis], point[q_axis] = index, p, q
        return Interaction("point", positive, point=tuple(float(v) for v in point))
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
    return Interaction(prompt.tool, positive, bbox=bbox, crop=crop)


def _trim(origin: tuple[int, int], mask: np.ndarray) -> tuple[tuple[int, int], np.ndarray] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return (origin[0] + int(rows[0]), origin[1] + int(cols[0])), crop


def _candidates(lo: np.ndarray, hi: np.ndarray, plane: tuple[int, int]):
    """Integer voxel grid covering ``[lo, hi]`` clipped to the plane, or None when empty."""
    # clip in float first: vertices far outside (1e300) must not overflow the int64 cast
    limit = np.asarray(plane, dtype=np.float64)
    start = np.maximum(np.floor(np.clip(lo, -1.0, limit)).astype(np.int64), 0)
    stop = np.minimum(np.ceil(np.clip(hi, -1.0, limit)).astype(np.int64) + 1, plane)
    if np.any(stop <= start):
        return None
    kp = np.arange(start[0], stop[0], dtype=np.float64)[:, None]
    kq = np.arange(start[1], stop[1], dtype=np.float64)[None, :]
    return (int(start[0]), int(start[1])), kp, kq


def scribble_region(
    vertices: np.ndarray, plane: tuple[int, int], thickness: tuple[float, float]
) -> tuple[tuple[int, int], np.ndarray] | None:
    """Rasterize a polyline stroke on a ``plane``-shaped slice.

    Returns ``((p0, q0), mask)`` with ``mask`` the boolean crop starting at voxel ``(p0, q0)``, or
    None when the stroke misses the slice.
    """
    half = np.asarray(thickness, dtype=np.float64) / 2
    vertices = np.asarray(vertices, dtype=np.float64)
    grid = _candidates(vertices.min(axis=0) - half, vertices.max(axis=0) + half, plane)
    if grid is None:
        return None
    origin, kp, kq = grid
    hit = np.zeros((kp.shape[0], kq.shape[1]), dtype=bool)
    segments = (
        zip(vertices[:-1], vertices[1:], strict=True)
        if len(vertices) > 1
        else [(vertices[0], vertices[0])]
    )
    for a, b in segments:
        hit |= _segment_hits(a, b, kp, kq, half)
    return _trim(origin, hit)


def _segment_hits(a, b, kp, kq, half) -> np.ndarray:
    """Voxels ``k`` whose box ``(k - half, k + half]`` meets segment ``a-b`` (s in [0, 1])."""
    lower = np.zeros(np.broadcast_shapes(kp.shape, kq.shape))
    lower_open = np.zeros(lower.shape, dtype=bool)
    upper = np.ones(lower.shape)
    upper_open = np.zeros(lower.shape, dtype=bool)
    for k, start, delta, h in ((kp, a[0], b[0] - a[0], half[0]), (kq, a[1], b[1] - a[1], half[1])):
        lo, hi = k - h, k + h  # need lo < start + s * delta <= hi
        if delta == 0:
            inside = (lo < start) & (start <= hi)
            bounds = [(np.where(inside, 0.0, 2.0), False), (np.where(inside, 1.0, -1.0), False)]
            new_lower, new_upper = bounds
        elif delta > 0:
            new_lower, new_upper = ((lo - start) / delta, True), ((hi - start) / delta, False)
        else:
            new_lower, new_upper = ((hi - start) / delta, False), ((lo - start) / delta, True)
        value, is_open = new_lower
        value = np.broadcast_to(value, lower.shape)
        lower_open = np.where(
            value > lower, is_open, np.where(value == lower, lower_open | is_open, lower_open)
        )
        lower = np.maximum(lower, value)
        value, is_open = new_upper
        value = np.broadcast_to(value, upper.shape)
        upper_open = np.where(
            value < upper, is_open, np.where(value == upper, upper_open | is_open, upper_open)
        )
        upper = np.minimum(upper, value)
    return (lower < upper) | ((lower == upper) & ~lower_open & ~upper_open)


def lasso_region(
    vertices: np.ndarray, plane: tuple[int, int]
) -> tuple[tuple[int, int], np.ndarray] | None:
    """Fill a closed polygon on a ``plane``-shaped slice (voxel centres inside, even-odd rule).

    Returns ``((p0, q0), mask)`` as :func:`scribble_region`, or None when no voxel centre is inside.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    grid = _candidates(vertices.min(axis=0), vertices.max(axis=0), plane)
    if grid is None:
        return None
    origin, kp, kq = grid
    inside = np.zeros((kp.shape[0], kq.shape[1]), dtype=bool)
    for (p_i, q_i), (p_j, q_j) in zip(vertices, np.roll(vertices, 1, axis=0), strict=True):
        if q_i == q_j:
            continue  # a horizontal edge never crosses the scanline
        crosses = (q_i > kq) != (q_j > kq)
        p_cross = (p_j - p_i) * (kq - q_i) / (q_j - q_i) + p_i
        inside ^= crosses & (kp < p_cross)
    return _trim(origin, inside)
