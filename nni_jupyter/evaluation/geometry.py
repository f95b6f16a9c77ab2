"""Mask geometry for simulated users: distance transform, connected components, slices, strokes.

Numpy and torch only (no scipy), so the evaluation runs wherever the inference runs.
"""

from __future__ import annotations

import numpy as np
import torch

_FAR = 1e12
_MAX_TEMPORARY = 2**25  # elements of the brute-force min-plus temporary per chunk


def _min_plus_along(squared: torch.Tensor, axis: int) -> torch.Tensor:
    """One pass of the separable squared EDT: ``out[i] = min_j squared[j] + (i - j)**2``."""
    moved = squared.movedim(axis, -1)
    n = moved.shape[-1]
    index = torch.arange(n, dtype=squared.dtype)
    offsets = (index[:, None] - index[None, :]) ** 2  # [i, j]
    flat = moved.reshape(-1, n)
    out = torch.empty_like(flat)
    rows = max(1, _MAX_TEMPORARY // (n * n))
    for start in range(0, flat.shape[0], rows):
        chunk = flat[start : start + rows]
        out[start : start + rows] = (chunk[:, None, :] + offsets[None]).amin(dim=-1)
    return out.reshape(moved.shape).movedim(-1, axis)


def edt(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from each foreground voxel to the nearest background voxel.

    Voxels outside the array count as background, so an object cut by the image border has its
    interior centre inside the image. Unit spacing; any number of dimensions.

    Parameters
    ----------
    mask
        Boolean or 0/1 array.

    Returns
    -------
    numpy.ndarray
        ``float32`` distances, 0 on background.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32)
    padded = np.pad(mask, 1)
    squared = torch.from_numpy(np.where(padded, _FAR, 0.0))
    for axis in range(padded.ndim):
        squared = _min_plus_along(squared, axis)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    return np.sqrt(squared[inner].numpy()).astype(np.float32)


def bbox(mask: np.ndarray) -> list[list[int]] | None:
    """Half-open bounding box ``[[lo, hi], ...]`` of the nonzero voxels, or None when empty."""
    mask = np.asarray(mask)
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if len(hits) == 0:
            return None
        box.append([int(hits[0]), int(hits[-1]) + 1])
    return box


def interior_centre(mask: np.ndarray) -> tuple[int, ...]:
    """The voxel farthest from the background (the maximum of the distance transform).

    Ties go to the candidate nearest the centroid of the tied voxels, then to the first in C order.
    Only the object's bounding box is transformed, so this is cheap for small objects.

    Raises
    ------
    ValueError
        If the mask is empty.
    """
    mask = np.asarray(mask, dtype=bool)
    box = bbox(mask)
    if box is None:
        raise ValueError("interior_centre needs a non-empty mask; got an all-zero mask")
    crop_slices = tuple(slice(lo, hi) for lo, hi in box)
    distances = edt(mask[crop_slices])
    best = np.argwhere(distances >= distances.max() - 1e-6)
    if len(best) > 1:
        gaps = ((best - best.mean(0)) ** 2).sum(1)
        best = best[np.argmin(gaps, keepdims=True)]
    return tuple(int(c + lo) for c, (lo, _) in zip(best[0], box, strict=True))


def connected_components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label the face-connected components of a mask.

    Parameters
    ----------
    mask
        Boolean or 0/1 array of any dimension.

    Returns
    -------
    labels : numpy.ndarray
        ``int64`` array, 0 on background and 1..n per component, ordered by first voxel in C order.
    sizes : numpy.ndarray
        Voxel count of each component, ``sizes[k - 1]`` for label ``k``.
    """
    mask = np.asarray(mask, dtype=bool)
    box = bbox(mask)
    if box is None:
        return np.zeros(mask.shape, dtype=np.int64), np.zeros(0, dtype=np.int64)
    crop_slices = tuple(slice(lo, hi) for lo, hi in box)
    labels = np.zeros(mask.shape, dtype=np.int64)
    labels[crop_slices], sizes = _label_crop(np.ascontiguousarray(mask[crop_slices]))
    return labels, sizes


def _label_crop(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = torch.from_numpy(mask)
    # every voxel starts with its own id; ids spread by max over face neighbours, and pointer
    # jumping (id -> id of the voxel that id names) shortcuts long paths
    ids = torch.arange(1, mask.size + 1, dtype=torch.int64).reshape(mask.shape)
    ids = torch.where(inside, ids, torch.zeros_like(ids))
    while True:
        spread = ids.clone()
        for axis in range(mask.ndim):
            n = mask.shape[axis]
            if n < 2:
                continue
            lo, hi = ids.narrow(axis, 0, n - 1), ids.narrow(axis, 1, n - 1)
            spread.narrow(axis, 0, n - 1).copy_(torch.maximum(spread.narrow(axis, 0, n - 1), hi))
            spread.narrow(axis, 1, n - 1).copy_(torch.maximum(spread.narrow(axis, 1, n - 1), lo))
        spread = torch.where(inside, spread, torch.zeros_like(spread))
        flat = spread.reshape(-1)
        jumped = torch.where(inside, flat[(spread - 1).clamp(min=0)], torch.zeros_like(spread))
        if torch.equal(jumped, ids):
            break
        ids = jumped
    flat = ids.reshape(-1).numpy()
    roots, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    foreground = np.flatnonzero(roots != 0)
    # number components by their first voxel in C order, for a stable, readable order
    remap = np.zeros(len(roots), dtype=np.int64)
    remap[foreground[np.argsort(first[foreground])]] = np.arange(1, len(foreground) + 1)
    labels = remap[inverse].reshape(mask.shape)
    sizes = np.bincount(labels.reshape(-1), minlength=len(foreground) + 1)[1:]
    return labels, sizes


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Boolean mask of the largest face-connected component (empty in, empty out)."""
    labels, sizes = connected_components(mask)
    if len(sizes) == 0:
        return np.zeros(np.shape(mask), dtype=bool)
    return labels == int(np.argmax(sizes)) + 1


def largest_slice(mask: np.ndarray, axis: int | None = None) -> tuple[int, int]:
    """``(axis, index)`` of the slice where the object's area is largest.

    Parameters
    ----------
    mask
        3-D object mask.
    axis
        Restrict the search to one axis; None searches all three (ties go to the lower axis).
    """
    mask = np.asarray(mask, dtype=bool)
    axes = range(3) if axis is None else [axis]
    best = (-1, 0, 0)
    for candidate in axes:
        other = tuple(a for a in range(3) if a != candidate)
        areas = mask.sum(axis=other)
        index = int(np.argmax(areas))
        if areas[index] > best[0]:
            best = (int(areas[index]), candidate, index)
    if best[0] <= 0:
        raise ValueError("largest_slice needs a non-empty mask; got an all-zero mask")
    return best[1], best[2]


def take_slice(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2-D slice ``index`` along ``axis``."""
    return np.take(volume, index, axis=axis)


def put_slice(shape: tuple[int, ...], axis: int, index: int, plane: np.ndarray) -> np.ndarray:
    """A ``uint8`` volume of ``shape`` holding ``plane`` at slice ``index`` along ``axis``."""
    volume = np.zeros(shape, dtype=np.uint8)
    slicer = [slice(None)] * 3
    slicer[axis] = index
    volume[tuple(slicer)] = plane
    return volume


def fill_polygon(vertices: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a closed polygon (even-odd rule, pixel centres) into a boolean 2-D mask.

    Parameters
    ----------
    vertices
        ``[n, 2]`` array of (row, col) coordinates, in pixel units.
    shape
        Output shape.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    out = np.zeros(shape, dtype=bool)
    lo = np.clip(np.floor(vertices.min(0)).astype(int), 0, np.asarray(shape) - 1)
    hi = np.clip(np.ceil(vertices.max(0)).astype(int) + 1, 1, np.asarray(shape))
    rows = np.arange(lo[0], hi[0])[:, None].astype(np.float64)
    cols = np.arange(lo[1], hi[1])[None, :].astype(np.float64)
    inside = np.zeros((len(rows), cols.shape[1]), dtype=bool)
    starts, ends = vertices, np.roll(vertices, -1, axis=0)
    for (r0, c0), (r1, c1) in zip(starts, ends, strict=True):
        if r0 == r1:
            continue
        crosses = (rows >= min(r0, r1)) & (rows < max(r0, r1))
        col_at = c0 + (rows - r0) * (c1 - c0) / (r1 - r0)
        inside ^= crosses & (cols < col_at)
    out[lo[0] : hi[0], lo[1] : hi[1]] = inside
    return out


def draw_polyline(points: np.ndarray, shape: tuple[int, int], thickness: int = 2) -> np.ndarray:
    """Rasterise an open polyline with a square brush of ``thickness`` pixels.

    Parameters
    ----------
    points
        ``[n, 2]`` (row, col) vertices; a single vertex draws a dot.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    samples = [points[:1]]
    for start, end in zip(points[:-1], points[1:], strict=True):
        steps = max(2, int(np.ceil(np.abs(end - start).max() * 2)) + 1)
        samples.append(start + np.linspace(0, 1, steps)[:, None] * (end - start))
    centres = np.concatenate(samples)
    offsets = np.arange(thickness) - (thickness - 1) // 2
    brush = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), -1).reshape(-1, 2)
    pixels = (np.round(centres).astype(int)[:, None, :] + brush[None]).reshape(-1, 2)
    keep = np.all((pixels >= 0) & (pixels < np.asarray(shape)), axis=1)
    out = np.zeros(shape, dtype=bool)
    out[tuple(pixels[keep].T)] = True
    return out


def erode2d(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary erosion with the 4-neighbourhood, ``iterations`` times (outside is background)."""
    out = np.asarray(mask, dtype=bool).copy()
    for _ in range(iterations):
        padded = np.pad(out, 1)
        out = (
            padded[1:-1, 1:-1]
            & padded[:-2, 1:-1]
            & padded[2:, 1:-1]
            & padded[1:-1, :-2]
            & padded[1:-1, 2:]
        )
    return out


def contour_polygon(
    mask2d: np.ndarray,
    n_vertices: int = 32,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A closed polygon tracing a 2-D object's outline, as a user draws a lasso.

    Rays from the interior centre at ``n_vertices`` equal angles each stop at the object's
    farthest pixel along them (plus half a pixel, so the polygon covers edge pixels); ``jitter``
    moves each vertex radially by a normal random amount of that many pixels.

    Returns
    -------
    numpy.ndarray
        ``[n_vertices, 2]`` (row, col) vertices.
    """
    mask2d = np.asarray(mask2d, dtype=bool)
    centre = np.asarray(interior_centre(mask2d), dtype=np.float64)
    pixels = np.argwhere(mask2d).astype(np.float64) - centre
    angles = np.arctan2(pixels[:, 1], pixels[:, 0])
    radii = np.hypot(pixels[:, 0], pixels[:, 1])
    bins = np.floor((angles + np.pi) / (2 * np.pi) * n_vertices).astype(int) % n_vertices
    reach = np.zeros(n_vertices)
    np.maximum.at(reach, bins, radii)
    reach += 0.75
    if jitter > 0:
        if rng is None:
            raise ValueError("contour_polygon needs rng when jitter > 0")
        reach = np.maximum(reach + rng.normal(0, jitter, n_vertices), 0.5)
    theta = (np.arange(n_vertices) + 0.5) / n_vertices * 2 * np.pi - np.pi
    return centre + reach[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)


def lasso_mask(
    mask2d: np.ndarray,
    n_vertices: int = 32,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Filled lasso around a 2-D object (see ``contour_polygon``), boolean, same shape."""
    polygon = contour_polygon(mask2d, n_vertices, jitter, rng)
    return fill_polygon(polygon, np.shape(mask2d))


def scribble_mask(
    mask2d: np.ndarray,
    thickness: int = 2,
    n_points: int = 5,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A stroke inside a 2-D object, as a user scribbles across it.

    Without ``rng``: a straight stroke along the object's principal axis through its interior
    centre, kept to the object eroded by ``thickness`` (or the object itself when too thin).
    With ``rng``: a polyline through ``n_points`` random interior pixels, ordered along the
    principal axis.
    """
    mask2d = np.asarray(mask2d, dtype=bool)
    inner = erode2d(mask2d, thickness)
    if not inner.any():
        inner = mask2d
    pixels = np.argwhere(inner).astype(np.float64)
    centre = np.asarray(interior_centre(inner), dtype=np.float64)
    axis = _principal_axis(pixels)
    if rng is None:
        offsets = pixels - centre
        across = np.abs(offsets @ np.array([-axis[1], axis[0]]))
        ends = (offsets @ axis)[across <= 0.75]  # holds the centre itself, so never empty
        points = np.stack([centre + ends.min() * axis, centre + ends.max() * axis])
        return draw_polyline(points, mask2d.shape, thickness) & mask2d
    chosen = pixels[rng.choice(len(pixels), size=min(n_points, len(pixels)), replace=False)]
    chosen = chosen[np.argsort((chosen - centre) @ axis)]
    return draw_polyline(chosen, mask2d.shape, thickness) & mask2d


def _principal_axis(pixels: np.ndarray) -> np.ndarray:
    if len(pixels) < 2:
        return np.array([1.0, 0.0])
    centred = pixels - pixels.mean(0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return vectors[:, -1]
