"""Read a DICOM series folder as one volume, refusing series that are not one regular volume.

Before any voxel is read, every slice's header is checked: all slices must have one size and
one orientation, no two slices may share a position (two acquisitions, or duplicate files), and
the positions along the slice normal must be evenly spaced (within 1 % of the median gap), since
a volume has one slice spacing. ITK would otherwise stack such slices silently with a wrong
spacing, or interleave two acquisitions. Each error says what was found and how to choose.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .sitk import load_sitk

if TYPE_CHECKING:
    import SimpleITK

POSITION, ORIENTATION, ACQUISITION = "0020|0032", "0020|0037", "0020|0012"
#: Metadata key listing the slices ``allow_gaps=True`` inserted (indices along axis 2).
MISSING_SLICES_KEY = "nni_jupyter|missing_slices"
#: Metadata key holding the absolute paths of the files read, one a line, in slice (axis 2) order;
#: slices ``allow_gaps=True`` inserted have none. DICOM-SEG export references them.
SOURCE_FILES_KEY = "nni_jupyter|source_files"
#: Gaps may differ from the median gap by this fraction and still count as even.
SPACING_TOLERANCE = 0.01


@dataclass(frozen=True)
class Slice:
    """One file's header facts: its size, orientation, position and acquisition."""

    path: Path
    size: tuple[int, int]
    orientation: tuple[float, ...] | None
    position: np.ndarray | None
    acquisition: str


def _numbers(text: str) -> tuple[float, ...] | None:
    """``"1\\0\\0"`` -> ``(1.0, 0.0, 0.0)``; None when a value is not a number."""
    try:
        return tuple(float(v) for v in text.strip().split("\\"))
    except ValueError:
        return None


def _slice(sitk: Any, path: str) -> Slice:
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()

    def tag(key: str) -> str:
        return reader.GetMetaData(key).strip() if reader.HasMetaDataKey(key) else ""

    position, orientation = _numbers(tag(POSITION)), _numbers(tag(ORIENTATION))
    return Slice(
        path=Path(path),
        size=tuple(reader.GetSize()[:2]),
        orientation=orientation if orientation and len(orientation) == 6 else None,
        position=np.asarray(position) if position and len(position) == 3 else None,
        acquisition=tag(ACQUISITION),
    )


def _check_uniform(folder: Path, slices: list[Slice]) -> None:
    for what, values in (
        ("sizes", [f"{s.size[0]}x{s.size[1]}" for s in slices]),
        ("orientations", [str(np.round(s.orientation or (), 4).tolist()) for s in slices]),
    ):
        counts = Counter(values)
        if len(counts) > 1:
            example = {v: s.path.name for v, s in zip(values, slices, strict=True)}
            found = ", ".join(f"{v} ({n} files, e.g. {example[v]})" for v, n in counts.items())
            raise ValueError(
                f"the DICOM series in {folder} holds slices of different {what}: {found}. "
                "A volume needs one; move the odd files to another folder"
            )


def _select_acquisition(folder: Path, slices: list[Slice], acquisition: int | None) -> list[Slice]:
    if acquisition is None:
        return slices
    found = sorted({s.acquisition or "(none)" for s in slices})
    chosen = [s for s in slices if _numbers(s.acquisition) == (float(acquisition),)]
    if not chosen:
        raise ValueError(
            f"acquisition {acquisition} is not in {folder}; found AcquisitionNumber {found}"
        )
    return chosen


def _duplicates_error(folder: Path, slices: list[Slice], first: int) -> ValueError:
    counts = Counter(s.acquisition for s in slices)
    if len(counts) > 1:
        listed = ", ".join(
            f"AcquisitionNumber {a or '(none)'} ({n} slices)" for a, n in sorted(counts.items())
        )
        return ValueError(
            f"the DICOM series in {folder} holds {len(counts)} acquisitions at the same slice "
            f"positions: {listed}. Choose one with read_image(folder, "
            f"acquisition={next(a for a in counts if a)})"
        )
    return ValueError(
        f"the DICOM series in {folder} holds two slices at one position: "
        f"{slices[first].path.name} and {slices[first + 1].path.name}. Remove the duplicate "
        "file, or move each acquisition to a folder of its own"
    )


def _layout(
    folder: Path, slices: list[Slice], allow_gaps: bool
) -> tuple[list[Slice], list[int], float]:
    """Slices in position order, each one's index on the regular grid, and the grid's step (mm)."""
    if len(slices) < 2 or any(s.position is None or s.orientation is None for s in slices):
        return slices, list(range(len(slices))), 0.0  # nothing to check positions against
    orientation = np.asarray(slices[0].orientation)
    normal = np.cross(orientation[:3], orientation[3:])
    slices = sorted(slices, key=lambda s: float(s.position @ normal))
    gaps = np.diff([float(s.position @ normal) for s in slices])
    expected = float(np.median(gaps))
    tolerance = SPACING_TOLERANCE * expected
    if gaps.min() <= tolerance:
        raise _duplicates_error(folder, slices, int(np.argmin(gaps)))
    uneven = np.abs(gaps - expected) > tolerance
    if not uneven.any():
        return slices, list(range(len(slices))), expected
    steps = np.maximum(np.rint(gaps / expected).astype(int), 1)
    on_grid = bool(np.all(np.abs(gaps - steps * expected) <= tolerance))
    if allow_gaps and on_grid:
        return slices, [0, *np.cumsum(steps).tolist()], expected
    first = int(np.argmax(uneven))
    how = (
        f"Add the missing files, or pass allow_gaps=True to place each slice at its position on "
        f"a {expected:.1f} mm grid with the missing slices filled with the series' lowest value"
        if on_grid
        else f"The gaps are not whole multiples of {expected:.1f} mm, so allow_gaps=True cannot "
        "place them either: move the slices of each evenly spaced part to a folder of its own"
    )
    raise ValueError(
        f"slice positions in {folder} are not evenly spaced: gap of {gaps[first]:.1f} mm "
        f"between slices {first} and {first + 1} ({slices[first].path.name} and "
        f"{slices[first + 1].path.name}), expected {expected:.1f} mm (the median gap); "
        f"{int(uneven.sum())} uneven gap(s) among {len(slices)} slices in position order. {how}"
    )


def series_ids(folder: Path) -> list[str]:
    """SeriesInstanceUIDs of the DICOM series in ``folder``."""
    return list(load_sitk().ImageSeriesReader.GetGDCMSeriesIDs(str(folder)) or ())


def read_series(
    folder: Path,
    series_id: str,
    acquisition: int | None = None,
    allow_gaps: bool = False,
) -> SimpleITK.Image:
    """Read one checked series as a SimpleITK image (see :func:`nni_jupyter.io.read_image`)."""
    sitk = load_sitk()
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_id)
    slices = [_slice(sitk, name) for name in files]
    _check_uniform(folder, slices)
    slices = _select_acquisition(folder, slices, acquisition)
    slices, grid, step = _layout(folder, slices, allow_gaps)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(s.path) for s in slices])
    reader.MetaDataDictionaryArrayUpdateOn()
    reader.LoadPrivateTagsOn()
    try:
        volume = reader.Execute()
    except RuntimeError as error:
        raise ValueError(f"SimpleITK cannot read the DICOM series in {folder}: {error}") from error
    if grid[-1] != len(grid) - 1:
        volume = _fill_gaps(sitk, volume, grid, step)
        missing = sorted(set(range(grid[-1] + 1)) - set(grid))
        volume.SetMetaData(MISSING_SLICES_KEY, " ".join(map(str, missing)))
    for key in reader.GetMetaDataKeys(0):
        volume.SetMetaData(key, reader.GetMetaData(0, key))
    volume.SetMetaData(SOURCE_FILES_KEY, "\n".join(str(s.path.resolve()) for s in slices))
    return volume


def _fill_gaps(sitk: Any, volume: Any, grid: list[int], step_mm: float) -> Any:
    """Place the read slices at their grid indices, the missing ones at the lowest value."""
    present = sitk.GetArrayViewFromImage(volume)  # [z, y, x]
    full = np.full((grid[-1] + 1, *present.shape[1:]), present.min(), present.dtype)
    full[grid] = present
    filled = sitk.GetImageFromArray(full)
    filled.SetSpacing((*volume.GetSpacing()[:2], step_mm))
    filled.SetOrigin(volume.GetOrigin())
    filled.SetDirection(volume.GetDirection())
    return filled
