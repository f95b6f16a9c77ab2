"""Domain-randomized training volumes (the SynthSeg idea): random shapes, random appearance.

A volume is a random label map painted from one *shape family*, each object then given a random
intensity, texture and contrast polarity over a randomly partitioned background, followed by a
random acquisition: bias field, blur (partial volume), thick slices (anisotropic spacing), a noise
kind and level, and a gamma curve. The model cannot learn any one anatomy or intensity from it,
only what a prompt points at.

Shape families used for training (``TRAINING_FAMILIES``): smooth blobs, lobed organs, tubes and
branching vessels, thin curved sheets, shells and rings, nested and touching objects, and our CT
phantoms (``nni_jupyter.data.phantom``). Object sizes run from a few voxels to wider than the
network patch. Two families are never used for training (``HELD_OUT_FAMILIES``) and measure
generalisation: sharp-edged solids (boxes, cylinders, cones, octahedra) and packed cells (a
Voronoi tessellation, every cell touching its neighbours).

Every random choice comes from ``numpy.random.default_rng(seed)``; a seed and a family always
give the same volume. Seeds at or above ``TRAINING_SEED_START`` feed training, seeds from
``VALIDATION_SEED_START`` the trainer's validation, and seeds below both the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..data import TRAINING_SEED_START, phantom

TRAINING_FAMILIES = ("blobs", "lobed", "vessels", "sheets", "shells", "nested", "phantom")
HELD_OUT_FAMILIES = ("solids", "cells")
#: Share of each training family in the training stream.
TRAINING_WEIGHTS = {
    "blobs": 0.15,
    "lobed": 0.15,
    "vessels": 0.14,
    "sheets": 0.1,
    "shells": 0.12,
    "nested": 0.14,
    "phantom": 0.2,
}
VALIDATION_SEED_START = 50_000

_Mask = tuple[tuple[slice, ...], np.ndarray]  # a crop's slices and the boolean shape inside


@dataclass
class SynthVolume:
    """A rendered volume: float32 image, int32 instance map (0 = background), its family."""

    image: np.ndarray
    labels: np.ndarray
    family: str


def training_family(seed: int) -> str:
    """The training family a training seed renders (a fixed draw from the seed)."""
    names = list(TRAINING_WEIGHTS)
    weights = np.array([TRAINING_WEIGHTS[n] for n in names])
    rng = np.random.default_rng([seed, 7])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def synth_volume(seed: int, family: str, shape: tuple[int, int, int] | None = None) -> SynthVolume:
    """Render volume ``seed`` of ``family`` (one of ``TRAINING_FAMILIES + HELD_OUT_FAMILIES``).

    ``shape`` defaults to a random ``72..128`` voxels per axis (128³ for phantoms).
    """
    if family == "phantom":
        image, labels = phantom(shape or (128, 128, 128), seed)
        return SynthVolume(image.astype(np.float32), labels.astype(np.int32), family)
    if family not in _PAINTERS:
        known = TRAINING_FAMILIES + HELD_OUT_FAMILIES
        raise ValueError(f"unknown shape family {family!r}; expected one of {known}")
    rng = np.random.default_rng(seed)
    if shape is None:
        shape = tuple(int(n) for n in rng.integers(72, 129, size=3))  # type: ignore[assignment]
    assert shape is not None
    labels = np.zeros(shape, dtype=np.int32)
    _PAINTERS[family](rng, labels)
    image = _render(rng, labels)
    return SynthVolume(image, labels, family)


# --- geometry ---------------------------------------------------------------------------------


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3-D rotation."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q.astype(np.float32)


def _interp(n_fine: int, n_coarse: int) -> np.ndarray:
    pos = np.linspace(0, n_coarse - 1, n_fine)
    lo = np.clip(np.floor(pos).astype(int), 0, n_coarse - 2)
    w = np.zeros((n_fine, n_coarse), dtype=np.float32)
    w[np.arange(n_fine), lo] = 1 - (pos - lo)
    w[np.arange(n_fine), lo + 1] = pos - lo
    return w


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int) -> np.ndarray:
    """Low-frequency random field of about unit amplitude (a coarse normal grid, upsampled)."""
    coarse = rng.standard_normal((cells, cells, cells)).astype(np.float32)
    mx, my, mz = (_interp(n, cells) for n in shape)
    return np.einsum("ia,jb,kc,abc->ijk", mx, my, mz, coarse, optimize=True)


def _crop(shape, centre: np.ndarray, half: float) -> tuple[tuple[slice, ...], list[np.ndarray]]:
    """Slices of a cube of ``half`` around ``centre`` (clipped) and its local coordinates."""
    lo = np.maximum(np.floor(centre - half).astype(int), 0)
    hi = np.minimum(np.ceil(centre + half).astype(int) + 1, shape)
    hi = np.maximum(hi, lo + 1)
    slices = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    axes = [
        np.arange(a, b, dtype=np.float32) - np.float32(c)
        for a, b, c in zip(lo, hi, centre, strict=True)
    ]
    return slices, [axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]]


def _local(grid: list[np.ndarray], rotation: np.ndarray) -> list[np.ndarray]:
    """Coordinates in a rotated frame."""
    return [
        rotation[i, 0] * grid[0] + rotation[i, 1] * grid[1] + rotation[i, 2] * grid[2]
        for i in range(3)
    ]


def _size(rng: np.random.Generator, lo: float = 3.0, hi: float = 45.0) -> float:
    """An object radius in voxels, log-uniform: as many small objects as large ones."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _centre(rng: np.random.Generator, shape, margin: float = 0.0) -> np.ndarray:
    shape_a = np.asarray(shape, dtype=np.float64)
    m = np.minimum(margin, shape_a / 2 - 1)
    return rng.uniform(m, shape_a - m)


def blob(rng, shape, centre, radius) -> _Mask:
    """A rotated ellipsoid with a wobbly boundary."""
    radii = radius * rng.uniform(0.5, 1.4, 3)
    roughness = rng.uniform(0.0, 0.25)
    slices, grid = _crop(shape, centre, radii.max() * (1 + 2 * roughness))
    local = _local(grid, _rotation(rng))
    rho = np.sqrt(sum((c / np.float32(r)) ** 2 for c, r in zip(local, radii, strict=True)))
    crop_shape = tuple(s.stop - s.start for s in slices)
    wobble = smooth_field(rng, crop_shape, int(rng.integers(3, 7))) * np.float32(roughness)
    return slices, rho + wobble < 1.0


def lobed(rng, shape, centre, radius) -> _Mask:
    """Two to five overlapping blobs: an organ with lobes."""
    full = np.zeros(shape, dtype=bool)
    for k in range(int(rng.integers(2, 6))):
        offset = rng.standard_normal(3) * radius * (0.0 if k == 0 else 0.55)
        slices, mask = blob(rng, shape, centre + offset, radius * rng.uniform(0.45, 0.8))
        full[slices] |= mask
    return _bounded(full)


def vessels(rng, shape, centre, radius) -> _Mask:
    """A tube that wanders and branches, its radius tapering along each branch."""
    full = np.zeros(shape, dtype=bool)
    tube = rng.uniform(0.8, 3.5) if rng.random() < 0.8 else rng.uniform(3.5, 6)
    branches = [
        (np.asarray(centre, float), rng.standard_normal(3), tube, radius * rng.uniform(2, 5))
    ]
    n_branches = int(rng.integers(0, 6))
    stiffness = rng.uniform(0.05, 0.25)
    while branches:
        start, heading, r, length = branches.pop()
        path = _walk(rng, start, heading, length, stiffness)
        taper = np.linspace(r, max(r * rng.uniform(0.4, 1.0), 0.7), len(path))
        _stamp(full, path, taper)
        if n_branches > 0:
            n_branches -= 1
            k = int(rng.integers(len(path) // 4, max(len(path) // 4 + 1, 3 * len(path) // 4)))
            branches.append(
                (path[k], rng.standard_normal(3), taper[k] * rng.uniform(0.5, 0.9), length * 0.6)
            )
    return _bounded(full)


def sheets(rng, shape, centre, radius) -> _Mask:
    """A thin curved sheet: a band around a bent plane, cut to an ellipsoid."""
    radius = max(radius, 6.0)
    thickness = rng.uniform(1.2, 4.0)
    slices, grid = _crop(shape, centre, radius)
    local = _local(grid, _rotation(rng))
    crop_shape = tuple(s.stop - s.start for s in slices)
    bend = smooth_field(rng, crop_shape, int(rng.integers(2, 5))) * np.float32(
        radius * rng.uniform(0.1, 0.4)
    )
    curvature = np.float32(rng.uniform(-1, 1) / radius)
    surface = local[0] + curvature * (local[1] ** 2 + local[2] ** 2) / 2 + bend
    radii = radius * rng.uniform(0.6, 1.0, 2)
    inside = (local[1] / np.float32(radii[0])) ** 2 + (local[2] / np.float32(radii[1])) ** 2 < 1
    return slices, (np.abs(surface) < thickness / 2) & inside


def shells(rng, shape, centre, radius) -> _Mask:
    """A hollow ellipsoidal shell, or a ring (torus)."""
    radius = max(radius, 5.0)
    slices, grid = _crop(shape, centre, radius * 1.5)
    local = _local(grid, _rotation(rng))
    wall = rng.uniform(1.2, max(1.3, radius / 3))
    if rng.random() < 0.5:
        radii = radius * rng.uniform(0.7, 1.3, 3)
        rho = np.sqrt(sum((c / np.float32(r)) ** 2 for c, r in zip(local, radii, strict=True)))
        inner = 1 - wall / radii.min()
        return slices, (rho < 1) & (rho >= inner)
    minor = min(wall, radius * 0.45)
    ring = np.sqrt(local[0] ** 2 + local[1] ** 2) - np.float32(radius)
    return slices, ring**2 + (local[2] * np.float32(rng.uniform(0.7, 1.5))) ** 2 < minor**2


def solids(rng, shape, centre, radius) -> _Mask:
    """Held out: a sharp-edged solid (box, cylinder, cone or octahedron)."""
    half = radius * rng.uniform(0.4, 1.2, 3)
    slices, grid = _crop(shape, centre, half.max() * 1.8)
    a, b, c = (x / np.float32(h) for x, h in zip(_local(grid, _rotation(rng)), half, strict=True))
    kind = int(rng.integers(4))
    if kind == 0:
        return slices, (np.abs(a) < 1) & (np.abs(b) < 1) & (np.abs(c) < 1)
    if kind == 1:
        return slices, (a**2 + b**2 < 1) & (np.abs(c) < 1)
    if kind == 2:
        return slices, (np.sqrt(a**2 + b**2) < (1 - c) / 2) & (np.abs(c) < 1)
    return slices, np.abs(a) + np.abs(b) + np.abs(c) < 1.3


def _walk(rng, start, heading, length, stiffness) -> np.ndarray:
    heading = heading / np.linalg.norm(heading)
    steps = rng.normal(0, stiffness, (max(int(length), 2), 3))
    directions = np.cumsum(np.vstack([heading, steps]), axis=0)[1:]
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return start + np.cumsum(directions, axis=0)


def _stamp(mask: np.ndarray, path: np.ndarray, radii: np.ndarray) -> None:
    """Balls of ``radii`` along ``path`` (one voxel steps), vectorised per radius bin."""
    bins = np.round(radii * 2) / 2
    for r in np.unique(bins):
        span = int(np.ceil(r))
        offsets = np.stack(np.meshgrid(*[np.arange(-span, span + 1)] * 3, indexing="ij"), -1)
        offsets = offsets.reshape(-1, 3)
        offsets = offsets[(offsets**2).sum(1) <= r * r + 0.25]
        points = np.round(path[bins == r]).astype(int)
        voxels = (points[:, None, :] + offsets[None]).reshape(-1, 3)
        inside = np.all((voxels >= 0) & (voxels < np.asarray(mask.shape)), axis=1)
        mask[tuple(voxels[inside].T)] = True


def _bounded(full: np.ndarray) -> _Mask:
    found = ndimage.find_objects(full.astype(np.uint8))
    if not found or found[0] is None:
        return (slice(0, 1),) * 3, np.zeros((1, 1, 1), dtype=bool)
    slices = found[0]
    return slices, full[slices]


# --- label maps -------------------------------------------------------------------------------

Shape = Callable[..., _Mask]


def _paint(labels: np.ndarray, mask: _Mask, value: int, only_on: np.ndarray | None = None) -> None:
    slices, crop = mask
    if only_on is not None:
        crop = crop & only_on[slices]
    labels[slices][crop] = value


def _scatter(rng, labels: np.ndarray, shapes: list[Shape], count: int, sizes=(3.0, 45.0)) -> None:
    """Paint ``count`` objects of random ``shapes``; later ones overlap earlier ones."""
    start = int(labels.max()) + 1
    for k in range(count):
        radius = _size(rng, *sizes)
        centre = _centre(rng, labels.shape, margin=min(radius, 10))
        shape_fn = shapes[int(rng.integers(len(shapes)))]
        _paint(labels, shape_fn(rng, labels.shape, centre, radius), start + k)


_TRAINING_SHAPES: list[Shape] = [blob, lobed, vessels, sheets, shells]


def _family(main: Shape) -> Callable[[np.random.Generator, np.ndarray], None]:
    """Painter of a family: mostly ``main``, with some objects from the other training shapes."""

    def paint(rng: np.random.Generator, labels: np.ndarray) -> None:
        count = int(rng.integers(3, 10))
        for _ in range(count):
            fn = main if rng.random() < 0.7 else _TRAINING_SHAPES[int(rng.integers(5))]
            _scatter(rng, labels, [fn], 1)

    return paint


def _nested(rng: np.random.Generator, labels: np.ndarray) -> None:
    """Containers with objects inside them, and pairs of objects that touch."""
    for _ in range(int(rng.integers(2, 5))):
        outer_value = int(labels.max()) + 1
        radius = _size(rng, 10, 45)
        centre = _centre(rng, labels.shape, margin=10)
        outer = (lobed if rng.random() < 0.5 else blob)(rng, labels.shape, centre, radius)
        _paint(labels, outer, outer_value)
        host = labels == outer_value
        points = np.argwhere(host)
        for _ in range(int(rng.integers(1, 4))):
            if len(points) == 0:
                break
            inner_centre = points[rng.integers(len(points))].astype(float)
            shape_fn = [blob, blob, vessels, shells][int(rng.integers(4))]
            inner = shape_fn(rng, labels.shape, inner_centre, radius * rng.uniform(0.15, 0.5))
            _paint(
                labels, inner, int(labels.max()) + 1, only_on=host if rng.random() < 0.7 else None
            )
        if rng.random() < 0.6:  # a neighbour touching the container
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            r2 = radius * rng.uniform(0.4, 1.0)
            touching = blob(rng, labels.shape, centre + direction * (radius + r2 * 0.6), r2)
            _paint(labels, touching, int(labels.max()) + 1, only_on=labels == 0)
    _scatter(rng, labels, _TRAINING_SHAPES, int(rng.integers(0, 4)))


def _cells(rng: np.random.Generator, labels: np.ndarray) -> None:
    """Held out: packed cells, a Voronoi tessellation of an ellipsoid, optionally with walls."""
    shape = labels.shape
    n = int(rng.integers(6, 30))
    centre = np.asarray(shape) / 2 + rng.normal(0, 4, 3)
    extent = np.asarray(shape) * rng.uniform(0.3, 0.48, 3)
    seeds = centre + rng.uniform(-1, 1, (n, 3)) * extent
    coarse = 2  # the nearest-seed search runs on a half-resolution grid
    small = tuple(int(np.ceil(s / coarse)) for s in shape)
    grid = np.stack(np.meshgrid(*[np.arange(m) * coarse + 0.5 for m in small], indexing="ij"), -1)
    d = np.linalg.norm(grid[..., None, :] - seeds[None, None, None], axis=-1)
    order = np.sort(d, axis=-1)
    nearest = np.argmin(d, axis=-1) + 1
    walls = (order[..., 1] - order[..., 0]) < (
        coarse * rng.uniform(0.5, 1.5) if rng.random() < 0.5 else 0
    )
    nearest[walls] = 0
    body = (((grid - centre) / extent) ** 2).sum(-1) < 1
    nearest[~body] = 0
    full = np.repeat(np.repeat(np.repeat(nearest, coarse, 0), coarse, 1), coarse, 2)
    labels[...] = full[: shape[0], : shape[1], : shape[2]]


def _solids(rng: np.random.Generator, labels: np.ndarray) -> None:
    _scatter(rng, labels, [solids], int(rng.integers(3, 10)))


_PAINTERS: dict[str, Callable[[np.random.Generator, np.ndarray], None]] = {
    "blobs": _family(blob),
    "lobed": _family(lobed),
    "vessels": _family(vessels),
    "sheets": _family(sheets),
    "shells": _family(shells),
    "nested": _nested,
    "solids": _solids,
    "cells": _cells,
}


# --- appearance -------------------------------------------------------------------------------


def _render(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """Random tissue intensities, textures and acquisition for a label map."""
    shape = labels.shape
    # background: two to four unlabelled tissues, split along a smooth random partition
    k = int(rng.integers(1, 5))
    fields = np.stack([smooth_field(rng, shape, int(rng.integers(2, 6))) for _ in range(k)])
    tissue = np.argmax(fields, axis=0)
    tissue_means = rng.uniform(0, 1, k).astype(np.float32)
    image = tissue_means[tissue]
    image += smooth_field(rng, shape, int(rng.integers(4, 16))) * np.float32(rng.uniform(0, 0.06))
    n = int(labels.max())
    means = rng.uniform(0, 1, n + 1).astype(np.float32)
    slices = ndimage.find_objects(labels)
    for value, region in enumerate(slices, start=1):
        if region is None:
            continue
        mask = labels[region] == value
        around = float(np.median(image[region][~mask])) if (~mask).any() else 0.5
        contrast = rng.uniform(0.08, 0.6) * (1 if rng.random() < 0.5 else -1)
        mean = around + contrast
        if not 0 <= mean <= 1:
            mean = around - contrast
        means[value] = np.clip(mean, -0.2, 1.2)
    image = np.where(labels > 0, means[labels], image)
    # texture inside objects: one smooth field, a random amplitude per object
    amplitude = rng.uniform(0, 0.08, n + 1).astype(np.float32)
    amplitude[0] = 0
    image += smooth_field(rng, shape, int(rng.integers(6, 20))) * amplitude[labels]
    if rng.random() < 0.5:  # contrast polarity: dark objects in bright tissue and the reverse
        image = 1 - image
    image *= np.exp(smooth_field(rng, shape, 3) * np.float32(rng.uniform(0, 0.3)))  # bias field
    image = ndimage.gaussian_filter(image, rng.uniform(0, 1.2, 3), truncate=2.5)  # partial volume
    if rng.random() < 0.4:  # thick slices along one axis
        image = _thick_slices(image, int(rng.integers(3)), int(rng.integers(2, 5)))
    image = _noise(rng, image)
    low, high = np.percentile(image, [0.5, 99.5])
    image = np.clip((image - low) / max(high - low, 1e-6), 0, 1)
    image = image ** np.float32(np.exp(rng.normal(0, 0.3)))  # gamma
    return (image * rng.uniform(100, 2000) + rng.uniform(-1000, 500)).astype(np.float32)


def _thick_slices(image: np.ndarray, axis: int, factor: int) -> np.ndarray:
    """Average ``factor`` slices into one and interpolate back: anisotropic spacing."""
    moved = np.moveaxis(image, axis, 0)
    n = moved.shape[0]
    pad = (-n) % factor
    padded = np.concatenate([moved, np.repeat(moved[-1:], pad, axis=0)]) if pad else moved
    thick = padded.reshape(-1, factor, *moved.shape[1:]).mean(1)
    positions = (np.arange(n) + 0.5) / factor - 0.5
    lo = np.clip(np.floor(positions).astype(int), 0, len(thick) - 1)
    hi = np.clip(lo + 1, 0, len(thick) - 1)
    w = np.clip(positions - lo, 0, 1).astype(np.float32)[:, None, None]
    return np.moveaxis(thick[lo] * (1 - w) + thick[hi] * w, 0, axis)


def _noise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    sigma = np.float32(rng.uniform(0.005, 0.1))
    kind = int(rng.integers(4))
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    if kind == 0:  # white Gaussian
        return image + sigma * noise
    if kind == 1:  # Rician (magnitude MRI)
        other = rng.standard_normal(image.shape, dtype=np.float32)
        return np.sqrt((image + sigma * noise) ** 2 + (sigma * other) ** 2)
    if kind == 2:  # multiplicative speckle (ultrasound-like)
        return image * (1 + 2 * sigma * noise)
    correlated = ndimage.gaussian_filter(noise, 1.0)  # correlated (reconstruction kernels)
    return image + sigma * correlated / correlated.std()


__all__ = [
    "HELD_OUT_FAMILIES",
    "TRAINING_FAMILIES",
    "TRAINING_SEED_START",
    "VALIDATION_SEED_START",
    "SynthVolume",
    "smooth_field",
    "synth_volume",
    "training_family",
]
