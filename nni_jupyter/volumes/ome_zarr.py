"""Read OME-Zarr images (0.4 and 0.5) lazily, one resolution level at a time, with ome-zarr-py.

ome-zarr-py reads and checks the ``multiscales`` metadata (axes, datasets, coordinate
transformations); the chosen level's Zarr array is then wrapped in a :class:`LazyVolume`, so
only the chunks a view or a prompt touches are decoded. OME-Zarr stores spatial axes after
optional ``t`` and ``c``, usually ``(z, y, x)``; they are matched by name (any order of x, y
and z; other names are refused), and the volume is presented as ``[X, Y, Z]`` with spacing and
origin from the level's ``scale`` and ``translation`` (in millimetres when the axes say so).
A damaged chunk is an error naming the array's path and the chunk's index (:class:`_Named`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..image import Image
from .lazy import DEFAULT_CACHE_BYTES, ChunkCache, CoarserLevel, LazyVolume

#: ``Image.metadata`` key naming the resolution level an OME-Zarr image was read at.
LEVEL_KEY = "nni_jupyter|ome_zarr_level"
#: Factors to millimetres for the OME-NGFF space units nni_jupyter accepts.
_TO_MM = {
    "millimeter": 1.0,
    "micrometer": 1e-3,
    "nanometer": 1e-6,
    "centimeter": 10.0,
    "meter": 1000.0,
    None: 1.0,
}


@dataclass(frozen=True)
class Level:
    """One resolution level: its dataset path, ``[X, Y, Z]`` shape and spacing in mm."""

    path: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]


def is_ome_zarr(path: str | Path) -> bool:
    """True when ``path`` is a folder holding OME-Zarr ``multiscales`` metadata."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    for name in ("zarr.json", ".zattrs"):
        file = folder / name
        if file.is_file() and "multiscales" in file.read_text(encoding="utf-8"):
            return True
    return False


def levels(path: str | Path) -> list[Level]:
    """The resolution levels of the OME-Zarr image at ``path``, finest first."""
    return _open(path)[1]


def read_ome_zarr(
    path: str | Path,
    level: int | None = None,
    *,
    channel: int = 0,
    timepoint: int = 0,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
) -> Image:
    """Open the OME-Zarr image at ``path`` as an :class:`nni_jupyter.Image` of a lazy volume.

    Parameters
    ----------
    level
        The resolution level (0 = full resolution, the default). Masks are made at the level read;
        the coarser levels are kept for the viewer (``volume.coarser``), which shows them when
        the view is zoomed out.
    channel, timepoint
        Which channel and time point of a ``c``/``t`` image to read.
    cache_bytes
        Bound of the volume's chunk cache.

    Raises
    ------
    ValueError
        When the folder is not an OME-Zarr image, its axes are not three spatial ones (plus
        optional ``t``/``c``), or the level, channel or time point does not exist.
    """
    location, found, axes = _open(path)
    order = _xyz_order(path, axes)
    index = 0 if level is None else int(level)
    if not 0 <= index < len(found):
        raise ValueError(f"{path} has resolution levels 0..{len(found) - 1}; got level {level}")
    chosen = found[index]

    def spatial(of: Level) -> Any:
        """The level's Zarr array, its time point and channel picked."""
        array = _zarr_array(location, of.path)
        picks: list[Any] = []
        for axis, (name, kind) in enumerate(axes):
            if kind == "space":
                picks.append(slice(None))
                continue
            wanted = timepoint if kind == "time" else channel
            if not 0 <= wanted < array.shape[axis]:
                what = "time point" if kind == "time" else "channel"
                raise ValueError(
                    f"{path} has {array.shape[axis]} {what}s on axis {name!r}; got {what} {wanted}"
                )
            picks.append(wanted)
        return _Pick(array, tuple(picks)) if any(p != slice(None) for p in picks) else array

    coarser = []  # for the viewer; their chunks are cached by the viewer, not here
    for other in found[index + 1 :]:
        factors = pyramid_factors(chosen.shape, other.shape)
        if factors is not None:
            lazy = LazyVolume(spatial(other), order=order, cache=ChunkCache(0))
            coarser.append(CoarserLevel(factors, lazy))
    volume = LazyVolume(
        spatial(chosen), order=order, cache=ChunkCache(cache_bytes), coarser=coarser
    )
    metadata = {LEVEL_KEY: str(index)}
    return Image(volume, chosen.spacing_mm, chosen.origin_mm, np.eye(3), str(path), metadata)  # type: ignore[arg-type]


def pyramid_factors(
    fine: tuple[int, int, int], coarse: tuple[int, int, int]
) -> tuple[int, int, int] | None:
    """The integer factor per axis that makes ``coarse`` from ``fine`` (each coarse side the
    fine one divided, rounded either way), or None when the shapes are not so related."""
    factors = []
    for n, m in zip(fine, coarse, strict=True):
        factor = max(1, round(n / max(m, 1)))
        if m not in (n // factor, -(-n // factor)):
            return None
        factors.append(factor)
    return factors[0], factors[1], factors[2]


def _open(path: str | Path) -> tuple[Any, list[Level], list[tuple[str, str]]]:
    try:
        from ome_zarr.io import parse_url
        from ome_zarr.reader import Multiscales, Reader
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"reading OME-Zarr needs ome-zarr-py ({error.name} is missing); "
            "install it with pip install 'nni_jupyter[zarr]'"
        ) from error
    location = parse_url(str(path), mode="r")
    if location is None:
        raise ValueError(f"{path} is not a Zarr folder; expected an OME-Zarr image")
    nodes = list(Reader(location)())
    image = next((n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs)), None)
    if image is None:
        raise ValueError(f"{path} holds no OME-Zarr multiscales image")
    spec = next(s for s in image.specs if isinstance(s, Multiscales))
    axes = [(str(a["name"]), str(a.get("type", "space"))) for a in image.metadata["axes"]]
    units = [a.get("unit") for a in image.metadata["axes"]]
    space = [d for d, (_, kind) in enumerate(axes) if kind == "space"]
    if len(space) != 3 or space != list(range(len(axes) - 3, len(axes))):
        raise ValueError(
            f"{path}: expected three spatial axes last (z, y, x, after optional t and c); "
            f"got axes {[name for name, _ in axes]}"
        )
    scale_to_mm = []
    for d in space:
        if units[d] not in _TO_MM:
            raise ValueError(
                f"{path}: axis {axes[d][0]!r} has unit {units[d]!r}; expected a length"
            )
        scale_to_mm.append(_TO_MM[units[d]])
    transforms = image.metadata.get("coordinateTransformations") or [None] * len(spec.datasets)
    order = _xyz_order(path, axes)
    found = []
    for dataset, data, transform in zip(spec.datasets, image.data, transforms, strict=True):
        scale, translation = _transform(transform, len(axes))
        stored = [int(data.shape[d]) for d in space]
        spacing = [scale[d] * f for d, f in zip(space, scale_to_mm, strict=True)]
        origin = [translation[d] * f for d, f in zip(space, scale_to_mm, strict=True)]
        x, y, z = order
        found.append(
            Level(
                dataset,
                (stored[x], stored[y], stored[z]),
                (spacing[x], spacing[y], spacing[z]),
                (origin[x], origin[y], origin[z]),
            )
        )
    return location, found, axes


def _xyz_order(path: str | Path, axes: list[tuple[str, str]]) -> tuple[int, int, int]:
    """Where x, y and z lie among the stored spatial axes, by their names (``(2, 1, 0)`` for
    the usual ``z, y, x``); axes not named x, y and z are refused rather than guessed."""
    names = [name.lower() for name, kind in axes if kind == "space"]
    if sorted(names) != ["x", "y", "z"]:
        raise ValueError(
            f"{path}: expected spatial axes named x, y and z (in any order); got {names}. "
            "Rename the axes in its multiscales metadata to say which is which"
        )
    return names.index("x"), names.index("y"), names.index("z")


def _transform(transform: Any, ndim: int) -> tuple[list[float], list[float]]:
    """A dataset's ``scale`` and ``translation`` vectors (ones and zeros when absent)."""
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for step in transform or []:
        if step.get("type") == "scale":
            scale = [float(v) for v in step["scale"]]
        elif step.get("type") == "translation":
            translation = [float(v) for v in step["translation"]]
    return scale, translation


def _zarr_array(location: Any, dataset: str) -> Any:
    """The level's Zarr array, opened directly so chunks are read without a Dask graph."""
    import zarr

    group = zarr.open_group(store=location.store, mode="r")
    return group[dataset]


class _Pick:
    """A view of an array with some axes fixed (a time point, a channel), read on slicing."""

    def __init__(self, array: Any, picks: tuple[Any, ...]):
        self.array = array
        self.picks = picks
        kept = [d for d, p in enumerate(picks) if isinstance(p, slice)]
        self.shape = tuple(int(array.shape[d]) for d in kept)
        self.dtype = array.dtype
        chunks = getattr(array, "chunks", None)
        self.chunks = None if chunks is None else tuple(int(chunks[d]) for d in kept)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        parts = iter(key)
        full = tuple(next(parts) if isinstance(p, slice) else p for p in self.picks)
        return np.asarray(self.array[full])
