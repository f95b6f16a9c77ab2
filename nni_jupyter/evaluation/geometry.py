"""Mask geometry for simulated users: distance transform, connected components, slices, strokes.

Strokes are turned into voxels by :mod:`nni_jupyter.core.gestures`, the rasterizer the widget
uses, so the protocol measures (and the demo trainer learns) the gestures a user actually sends.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..core.gestures import PlaneRegion, lasso_region, scribble_region
from ..core.regions import nonzero_bbox, to_slices

#: Face connectivity (6 neighbours in 3-D, 4 in 2-D), as the simulated user sees regions.
_FACE = 1


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
    distances = ndimage.distance_transform_edt(np.pad(mask, 1))
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    return distances[inner].astype(np.float32)


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
    box = nonzero_bbox(mask)
    if box is None:
        raise ValueError("interior_centre needs a non-empty mask; got an all-zero mask")
    distances = edt(mask[to_slices(box)])
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
    structure = ndimage.generate_binary_structure(mask.ndim, _FACE)
    labels, count = ndimage.label(mask, structure=structure, output=np.int64)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
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
    slicer: list[slice | int] = [slice(None)] * 3
    slicer[axis] = index
    volume[tuple(slicer)] = plane
    return volume


def erode2d(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary erosion with the 4-neighbourhood, ``iterations`` times (outside is background)."""
    mask = np.asarray(mask, dtype=bool)
    if iterations <= 0:
        return mask.copy()
    structure = ndimage.generate_binary_structure(2, _FACE)
    return ndimage.binary_erosion(mask, structure, iterations=iterations, border_value=0)


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
    """Filled lasso around a 2-D object (see ``contour_polygon``), boolean, same shape.

    The polygon is filled by the widget's lasso rule
    (:func:`~nni_jupyter.core.gestures.lasso_region`).
    """
    polygon = contour_polygon(mask2d, n_vertices, jitter, rng)
    return _plane_mask(lasso_region(polygon, np.shape(mask2d)), np.shape(mask2d))


def scribble_polyline(
    mask2d: np.ndarray,
    thickness: int = 2,
    n_points: int = 5,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The vertices of a stroke inside a 2-D object, as a user scribbles across it.

    Without ``rng``: a straight stroke along the object's principal axis through its interior
    centre, as far as the object eroded by ``thickness`` (or the object itself when too thin)
    runs on without a gap. With ``rng``: a polyline through ``n_points`` random interior pixels,
    ordered along the principal axis.

    Returns
    -------
    numpy.ndarray
        ``[n, 2]`` (row, col) vertices.
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
        lo, hi = _run_through_zero(offsets[across <= 0.75] @ axis)
        return np.stack([centre + lo * axis, centre + hi * axis])
    chosen = pixels[rng.choice(len(pixels), size=min(n_points, len(pixels)), replace=False)]
    return chosen[np.argsort((chosen - centre) @ axis)]


def scribble_mask(
    mask2d: np.ndarray,
    thickness: int = 2,
    n_points: int = 5,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A stroke inside a 2-D object (see ``scribble_polyline``), boolean, same shape.

    The polyline is drawn by the widget's scribble rule
    (:func:`~nni_jupyter.core.gestures.scribble_region`) with a ``thickness``-voxel brush:
    without ``rng`` exactly what the widget sends for that stroke. With ``rng`` what spills out
    of the object is erased (a careful user keeps inside).
    """
    mask2d = np.asarray(mask2d, dtype=bool)
    polyline = scribble_polyline(mask2d, thickness, n_points, rng)
    brush = (float(thickness), float(thickness))
    stroke = _plane_mask(scribble_region(polyline, mask2d.shape, brush), mask2d.shape)
    return stroke if rng is None else stroke & mask2d


def _run_through_zero(positions: np.ndarray) -> tuple[float, float]:
    """Ends of the stretch of ``positions`` (which hold 0) around 0 with no gap over 1.5 pixels."""
    positions = np.sort(positions)
    gaps = np.flatnonzero(np.diff(positions) > 1.5)  # a gap lies between g and g + 1
    zero = int(np.searchsorted(positions, 0.0))
    before, after = gaps[gaps < zero], gaps[gaps >= zero]
    lo = positions[before[-1] + 1] if before.size else positions[0]
    hi = positions[after[0]] if after.size else positions[-1]
    return float(lo), float(hi)


def _plane_mask(region: PlaneRegion | None, shape: tuple[int, ...]) -> np.ndarray:
    """A boolean ``shape`` plane holding a rasterized region (empty when it is None)."""
    out = np.zeros(shape, dtype=bool)
    if region is not None:
        (p0, q0), crop = region
        out[p0 : p0 + crop.shape[0], q0 : q0 + crop.shape[1]] = crop
    return out


def _principal_axis(pixels: np.ndarray) -> np.ndarray:
    if len(pixels) < 2:
        return np.array([1.0, 0.0])
    centred = pixels - pixels.mean(0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return vectors[:, -1]
