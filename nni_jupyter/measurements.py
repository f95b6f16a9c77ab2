"""Per-object measurements: voxel count, volume in mL, bounding box and centroid.

Works on a label map (0 = background) or on per-object masks, with the image's spacing and, when
given, its origin and direction so centroids come out in the file's physical frame.

(The module is not named ``measure`` so that ``nni_jupyter.measure`` stays the function: importing
a submodule would replace a package attribute of the same name.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nni_jupyter.image import Image
from nni_jupyter.volumes import SparseVolume

if TYPE_CHECKING:
    import pandas

MM3_PER_ML = 1000.0


def split_objects(labels_or_masks: Any) -> tuple[list[int], Callable[[int], np.ndarray]]:
    """Return the object labels, in order, and a function giving one object's mask.

    Accepts what :func:`measure` accepts. Masks are made one at a time on request, so a label
    map with many objects never holds them all in memory.
    """
    if isinstance(labels_or_masks, Mapping):
        labels_or_masks = list(labels_or_masks.values())
    if isinstance(labels_or_masks, (list, tuple)) or np.ndim(labels_or_masks) == 4:
        masks = [np.asarray(mask) for mask in labels_or_masks]
        shapes = {mask.shape for mask in masks}
        if len(shapes) > 1 or any(len(shape) != 3 for shape in shapes):
            raise ValueError(f"masks must all be 3-D [X, Y, Z] of one shape; got shapes {shapes}")
        return list(range(1, len(masks) + 1)), lambda label: masks[label - 1] != 0
    labels = np.asarray(labels_or_masks)
    if labels.ndim != 3:
        raise ValueError(
            "expected a 3-D label map [X, Y, Z], a 4-D stack of masks [N, X, Y, Z], or a "
            f"list/dict of 3-D masks; got an array of shape {labels.shape}"
        )
    if labels.dtype == bool:
        return [1], lambda label: labels
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"a label map must hold integers; got dtype {labels.dtype}")
    object_labels = [int(label) for label in np.unique(labels) if label != 0]
    return object_labels, lambda label: labels == label


Stats = tuple[int, list[list[int]] | None, np.ndarray | None]


def _stats(mask: np.ndarray) -> Stats:
    """Voxel count, half-open bbox and centroid (voxels) from per-axis projections."""
    return _from_profiles([_profile(mask, axis) for axis in range(3)])


def _profile(mask: np.ndarray, axis: int) -> np.ndarray:
    """Voxels of ``mask`` per index along ``axis``."""
    return np.asarray(mask.sum(axis=tuple(a for a in range(3) if a != axis)), dtype=np.int64)


def _sparse_stats(labels: SparseVolume) -> dict[int, Stats]:
    """:func:`_stats` of every object of a sparse label map, chunk by chunk (never dense)."""
    profiles: dict[int, list[np.ndarray]] = {}
    for box, chunk in labels.iter_chunks():
        for value in np.unique(chunk).tolist():
            if not value:
                continue
            hit = chunk == value
            totals = profiles.setdefault(int(value), [np.zeros(n, np.int64) for n in labels.shape])
            for axis, (lo, hi) in enumerate(box):
                totals[axis][lo:hi] += _profile(hit, axis)
    return {label: _from_profiles(profiles[label]) for label in sorted(profiles)}


def _from_profiles(counts: list[np.ndarray]) -> Stats:
    voxels = int(counts[0].sum())
    if voxels == 0:
        return 0, None, None
    bbox = []
    centroid = np.empty(3)
    for axis, profile in enumerate(counts):
        present = np.flatnonzero(profile)
        bbox.append([int(present[0]), int(present[-1]) + 1])
        centroid[axis] = float((profile * np.arange(profile.size)).sum()) / voxels
    return voxels, bbox, centroid


def measure(
    labels_or_masks: Any,
    spacing_mm: Sequence[float] | Image = (1.0, 1.0, 1.0),
    names: Sequence[str] | Mapping[int, str] | None = None,
    *,
    origin_mm: Sequence[float] | None = None,
    direction: Any = None,
    as_dataframe: bool | None = None,
) -> list[dict[str, Any]] | pandas.DataFrame:
    """Measure each object: voxels, volume (mL), bounding box and centroid in voxels and mm.

    Parameters
    ----------
    labels_or_masks
        A label map ``[X, Y, Z]`` (0 = background; one object per nonzero value), a list or 4-D
        stack of per-object masks (object ``n`` is label ``n + 1``; empty masks are reported with
        0 voxels), a dict ``{name: mask}``, or one bool mask. A
        :class:`~nni_jupyter.volumes.SparseVolume` label map (a lazy image's) is measured chunk
        by chunk.
    spacing_mm
        Voxel size along x, y, z in mm, or an :class:`nni_jupyter.io.Image` whose spacing, origin
        and direction are all used.
    names
        One name per object in label order, or ``{label: name}`` (objects missing from it, and all
        objects by default, are called ``"object <label>"``).
    origin_mm, direction
        Physical position of voxel ``(0, 0, 0)`` and the 3x3 direction cosines (column ``d`` is
        array axis ``d``); default zero origin and identity, i.e. centroids relative to voxel 0.
    as_dataframe
        True: a ``pandas.DataFrame`` (one row per object); False: a list of dicts; None (default):
        a DataFrame when pandas is installed.

    Returns
    -------
    list of dict or pandas.DataFrame
        Keys/columns: ``label``, ``name``, ``voxels``, ``volume_ml``, ``bbox`` (half-open
        ``[[x0, x1], [y0, y1], [z0, z1]]``), ``centroid_voxel`` and ``centroid_mm`` (``(x, y, z)``
        tuples; None for an empty object).
    """
    if isinstance(spacing_mm, Image):
        image = spacing_mm
        spacing_mm = image.spacing_mm
        origin_mm = image.origin_mm if origin_mm is None else origin_mm
        direction = image.direction if direction is None else direction
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be 3 positive numbers (x, y, z); got {spacing_mm!r}")
    origin, rotation = _frame(origin_mm, direction)

    if isinstance(labels_or_masks, Mapping):
        if names is not None:
            raise ValueError("a dict of masks names its objects; pass names=None with a dict")
        names = [str(key) for key in labels_or_masks]
    stats_of: Callable[[int], Stats]
    if isinstance(labels_or_masks, SparseVolume):  # a lazy image's labels
        if labels_or_masks.ndim != 3:
            raise ValueError(f"expected a 3-D label map [X, Y, Z]; got {labels_or_masks.shape}")
        sparse = _sparse_stats(labels_or_masks)
        object_labels, stats_of = list(sparse), sparse.__getitem__
    else:
        object_labels, mask_of = split_objects(labels_or_masks)

        def stats_of(label: int) -> Stats:  # one object's mask at a time
            return _stats(mask_of(label))

    if names is not None and not isinstance(names, Mapping):
        if len(names) != len(object_labels):
            raise ValueError(
                f"got {len(names)} names for {len(object_labels)} objects {object_labels}; give "
                "one per object, or a dict {label: name}"
            )
        names = dict(zip(object_labels, names, strict=True))
    names = names or {}
    rows = []
    for label in object_labels:
        voxels, bbox, centroid = stats_of(label)
        centroid_mm = (
            None if centroid is None else voxel_to_world(centroid, spacing, origin, rotation)
        )
        rows.append(
            {
                "label": label,
                "name": str(names.get(label, f"object {label}")),
                "voxels": voxels,
                "volume_ml": voxels * float(np.prod(spacing)) / MM3_PER_ML,
                "bbox": bbox,
                "centroid_voxel": _as_tuple(centroid),
                "centroid_mm": _as_tuple(centroid_mm),
            }
        )
    return _as_output(rows, as_dataframe)


def _as_tuple(vector: np.ndarray | None) -> tuple[float, ...] | None:
    return None if vector is None else tuple(float(v) for v in vector)


def _as_output(
    rows: list[dict[str, Any]], as_dataframe: bool | None
) -> list[dict[str, Any]] | pandas.DataFrame:
    if as_dataframe is False:
        return rows
    try:
        import pandas as pd
    except ImportError as error:
        if as_dataframe:
            raise ImportError(
                "as_dataframe=True needs pandas; install it with: pip install pandas "
                "(or pass as_dataframe=False for a list of dicts)"
            ) from error
        return rows
    columns = ["label", "name", "voxels", "volume_ml", "bbox", "centroid_voxel", "centroid_mm"]
    return pd.DataFrame(rows, columns=columns).set_index("label")


def voxel_to_world(
    index: Any, spacing_mm: Any, origin_mm: Any = None, direction: Any = None
) -> np.ndarray:
    """Physical position in mm of voxel ``index`` (x, y, z; fractional allowed).

    ``world = origin + direction @ (index * spacing)``; ``index`` may be ``[..., 3]`` (many
    points). Default origin zero and identity direction (column ``d`` is array axis ``d``).
    """
    origin, rotation = _frame(origin_mm, direction)
    scaled = np.asarray(index, dtype=float) * np.asarray(spacing_mm, dtype=float)
    return origin + scaled @ rotation.T


def world_to_voxel(
    point_mm: Any, spacing_mm: Any, origin_mm: Any = None, direction: Any = None
) -> np.ndarray:
    """Inverse of :func:`voxel_to_world`: fractional voxel index of a physical point in mm."""
    origin, rotation = _frame(origin_mm, direction)
    relative = np.asarray(point_mm, dtype=float) - origin
    return np.linalg.solve(rotation, relative.T).T / np.asarray(spacing_mm, dtype=float)


def _frame(origin_mm: Any, direction: Any) -> tuple[np.ndarray, np.ndarray]:
    origin = np.zeros(3) if origin_mm is None else np.asarray(origin_mm, dtype=float)
    rotation = np.eye(3) if direction is None else np.asarray(direction, dtype=float).reshape(3, 3)
    return origin, rotation
