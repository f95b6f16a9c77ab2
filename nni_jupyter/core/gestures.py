"""Gestures on a slice to voxels: the one rasterizer of scribbles and lassos.

The widget (:mod:`nni_jupyter.annotation.raster`), the Python API, the evaluation protocol and the
demo trainer all turn a stroke into voxels here, so the model is trained and measured on the
voxels the widget sends. The rules (also in PROTOCOL.md, "Rasterization"), in in-plane coordinates
``(p, q)`` of a slice along ``axis``, where the centre of voxel ``k`` is at ``k``:

- rounding is half up, ``floor(v + 0.5)``, as JavaScript's ``Math.round``;
- scribble: voxel ``k`` is in the stroke when a brush ``[c - t/2, c + t/2)`` centred on some point
  ``c`` of the polyline contains it (``t`` = the in-plane scribble thickness per axis);
- lasso: voxel centres inside the closed polygon (even-odd rule, half-open edges).
"""

from __future__ import annotations

import numpy as np

PlaneRegion = tuple[tuple[int, int], np.ndarray]


def round_half_up(value: float | np.ndarray) -> np.ndarray:
    """Round half up, as JavaScript's ``Math.round``."""
    return np.floor(np.asarray(value, dtype=np.float64) + 0.5).astype(np.int64)


def plane_axes(axis: int) -> tuple[int, int]:
    """Return the volume axes ``(p, q)`` of a slice along ``axis`` (the other two, in order)."""
    return tuple(a for a in range(3) if a != axis)  # type: ignore[return-value]


def _trim(origin: tuple[int, int], mask: np.ndarray) -> PlaneRegion | None:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return (origin[0] + int(rows[0]), origin[1] + int(cols[0])), crop


def _candidates(
    lo: np.ndarray, hi: np.ndarray, plane: tuple[int, int]
) -> tuple[tuple[int, int], np.ndarray, np.ndarray] | None:
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
) -> PlaneRegion | None:
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


def _segment_hits(
    a: np.ndarray, b: np.ndarray, kp: np.ndarray, kq: np.ndarray, half: np.ndarray
) -> np.ndarray:
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
    return (lower < upper) | (np.equal(lower, upper) & ~lower_open & ~upper_open)


def lasso_region(vertices: np.ndarray, plane: tuple[int, int]) -> PlaneRegion | None:
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
