"""The brush rule: which voxels of a slice a stroke of a round brush covers (numpy only).

One rule, implemented identically by the browser (``js/brush.ts``) and proven voxel for voxel by
``tests/widget/brush_fixture.json``. In in-plane voxel coordinates ``(p, q)`` of a slice, where the
centre of voxel ``k`` is at ``k``: voxel ``(kp, kq)`` is covered when its centre lies within the
brush radius of the stroke's polyline, i.e. within distance 1 of some segment after scaling each
axis by ``1 / radius`` on that axis (``radius = (rp, rq)``; a radius given in mm becomes a
different radius in voxels per axis on an anisotropic image). Consecutive pointer positions are
joined by their segment (a capsule), so a fast drag leaves no gaps; a single vertex is a disc.

Every number is computed with the same IEEE double operations in the same order as the browser's
code, so a voxel exactly on the brush's edge is decided the same way on both sides.
"""

from __future__ import annotations

import math

import numpy as np

#: The most voxel centres one stroke may test (its segments' windows together): a hostile stroke
#: of many long segments with a huge radius is refused instead of costing minutes.
MAX_TESTED_VOXELS = 40_000_000

#: A region of a slice: the crop's first voxel ``(p0, q0)`` and the boolean crop.
PlaneRegion = tuple[tuple[int, int], np.ndarray]


def _window(
    a: tuple[float, float],
    b: tuple[float, float],
    radius: tuple[float, float],
    plane: tuple[int, int],
) -> tuple[int, int, int, int] | None:
    """The voxels ``[p0, p1) x [q0, q1)`` whose centres may lie within the segment's capsule."""
    bounds = []
    for axis in (0, 1):
        lo = min(a[axis], b[axis]) - radius[axis]
        hi = max(a[axis], b[axis]) + radius[axis]
        start = max(math.ceil(max(lo, -1.0)), 0)
        stop = min(math.floor(min(hi, float(plane[axis]))) + 1, plane[axis])
        if stop <= start:
            return None
        bounds += [start, stop]
    return bounds[0], bounds[1], bounds[2], bounds[3]


def segment_hits(
    a: tuple[float, float],
    b: tuple[float, float],
    radius: tuple[float, float],
    kp: np.ndarray,
    kq: np.ndarray,
) -> np.ndarray:
    """Whether voxel centres ``(kp, kq)`` (broadcast) lie within the capsule of segment ``a-b``."""
    rp, rq = radius
    ap, aq, bp, bq = a[0] / rp, a[1] / rq, b[0] / rp, b[1] / rq
    u, v = kp / rp, kq / rq
    dp, dq = bp - ap, bq - aq
    length2 = dp * dp + dq * dq
    if length2 > 0:
        t = np.clip(((u - ap) * dp + (v - aq) * dq) / length2, 0.0, 1.0)
        ep, eq = u - (ap + t * dp), v - (aq + t * dq)
    else:
        ep, eq = u - ap, v - aq
    hits: np.ndarray = ep * ep + eq * eq <= 1.0
    return hits


def tested_voxels(vertices: np.ndarray, radius: tuple[float, float], plane: tuple[int, int]) -> int:
    """How many voxel centres the stroke's segment windows hold together (its cost)."""
    total = 0
    for a, b in _segments(vertices):
        window = _window(a, b, radius, plane)
        if window is not None:
            total += (window[1] - window[0]) * (window[3] - window[2])
    return total


def _segments(vertices: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    points = [(float(p), float(q)) for p, q in np.asarray(vertices, dtype=np.float64)]
    if len(points) == 1:
        return [(points[0], points[0])]
    return list(zip(points[:-1], points[1:], strict=True))


def stroke_region(
    vertices: np.ndarray, radius: tuple[float, float], plane: tuple[int, int]
) -> PlaneRegion | None:
    """Rasterize a brush stroke on a ``plane``-shaped slice.

    Parameters
    ----------
    vertices
        ``[N, 2]`` in-plane positions ``(p, q)`` in voxels, in drawing order.
    radius
        The brush radius in voxels along p and q.
    plane
        The slice's shape ``(P, Q)``.

    Returns
    -------
    tuple or None
        ``((p0, q0), crop)``: the boolean crop of covered voxels starting at voxel ``(p0, q0)``,
        trimmed to its covered voxels; None when the stroke covers no voxel of the slice.

    Raises
    ------
    ValueError
        When the stroke would test more than :data:`MAX_TESTED_VOXELS` voxel centres.
    """
    cost = tested_voxels(vertices, radius, plane)
    if cost > MAX_TESTED_VOXELS:
        raise ValueError(
            f"this brush stroke would test {cost:,} voxels (at most {MAX_TESTED_VOXELS:,}): "
            "draw it in shorter strokes or with a smaller brush"
        )
    windows = [
        (a, b, window)
        for a, b in _segments(vertices)
        if (window := _window(a, b, radius, plane)) is not None
    ]
    if not windows:
        return None
    origin_p = min(w[0] for _, _, w in windows)
    origin_q = min(w[2] for _, _, w in windows)
    size_p = max(w[1] for _, _, w in windows) - origin_p
    size_q = max(w[3] for _, _, w in windows) - origin_q
    covered = np.zeros((size_p, size_q), dtype=bool)
    for a, b, (p0, p1, q0, q1) in windows:
        kp = np.arange(p0, p1, dtype=np.float64)[:, None]
        kq = np.arange(q0, q1, dtype=np.float64)[None, :]
        hits = segment_hits(a, b, radius, kp, kq)
        covered[p0 - origin_p : p1 - origin_p, q0 - origin_q : q1 - origin_q] |= hits
    rows = np.flatnonzero(covered.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(covered.any(axis=0))
    crop = covered[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return (origin_p + int(rows[0]), origin_q + int(cols[0])), crop
