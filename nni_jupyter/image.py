"""A 3-D image with its physical geometry: the value every reader returns and every writer takes.

Numpy only, so the lowest layers (volumes, exports, io) can all use it without importing each
other. Axis order is ``[X, Y, Z]``; see :mod:`nni_jupyter.io` for how files map onto it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Image:
    """A 3-D image in nni_jupyter's ``[X, Y, Z]`` axis order with its physical geometry.

    Attributes
    ----------
    array
        Voxel values ``[X, Y, Z]``, in the file's own dtype (raw intensities, never rescaled).
    spacing_mm
        Voxel size along x, y, z in mm.
    origin_mm
        Physical position (mm) of the centre of voxel ``(0, 0, 0)``.
    direction
        3x3 direction cosines: column ``d`` is the physical direction of array axis ``d``.
    path
        The file or DICOM folder this image was read from, if any.
    metadata
        Header fields SimpleITK exposes (e.g. DICOM tags of the first slice), as strings; for a
        DICOM series also its files in slice order (:data:`nni_jupyter.io.dicom.SOURCE_FILES_KEY`).
    """

    array: np.ndarray
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    path: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Image.array must be 3-D [X, Y, Z]; got shape {self.array.shape}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "spacing_mm", tuple(float(v) for v in self.spacing_mm))
        object.__setattr__(self, "origin_mm", tuple(float(v) for v in self.origin_mm))

    @property
    def shape(self) -> tuple[int, int, int]:
        """The array's shape ``(X, Y, Z)``."""
        x, y, z = self.array.shape
        return x, y, z

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.array, dtype=dtype)

    def index_to_physical(self, index: Sequence[float]) -> np.ndarray:
        """Physical point (mm) of a voxel index ``(i, j, k)`` (fractional indices allowed)."""
        voxel = np.asarray(index, dtype=float)
        return np.asarray(self.origin_mm) + self.direction @ (np.asarray(self.spacing_mm) * voxel)

    def physical_to_index(self, point_mm: Sequence[float]) -> np.ndarray:
        """Continuous voxel index ``(i, j, k)`` of a physical point (mm); round it for a voxel."""
        offset = np.asarray(point_mm, dtype=float) - np.asarray(self.origin_mm)
        return np.linalg.solve(self.direction, offset) / np.asarray(self.spacing_mm)

    def session_input(self) -> np.ndarray:
        """The array as the session's 4-D input ``[1, X, Y, Z]`` (a view, no copy)."""
        return self.array[None]
