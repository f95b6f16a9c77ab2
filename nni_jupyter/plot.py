"""Static matplotlib figures: a slice montage with label overlays, and Dice curves.

Figures are ``matplotlib.figure.Figure`` objects (extra ``[plot]``) made without pyplot: no global
figure state, and each displays itself as one PNG output (``_repr_png_``), which nbconvert/HTML
exports keep where widgets are lost. Save them with ``fig.savefig("overview.png")``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nni_jupyter.palette import object_color

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

AXIS_NAMES = ("x", "y", "z")


@functools.cache
def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plots need matplotlib; install it with: pip install nni_jupyter[plot]"
        ) from error

    class NotebookFigure(Figure):
        """A Figure that displays itself as PNG, with or without pyplot's inline backend."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()

    return NotebookFigure


def _figure(**kwargs: Any) -> Figure:
    return _figure_class()(**kwargs)


def label_color(label: int) -> tuple[float, float, float]:
    """RGB colour (0..1) of a label value (1-based; label 0 is background).

    The colour of the object with that id in the widget (:mod:`nni_jupyter.palette`).
    """
    red, green, blue = object_color(label)
    return (red / 255, green / 255, blue / 255)


def as_label_map(labels: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """A uint16 label map from a label map, a bool mask or a list/stack/dict of masks.

    Masks later in the list are drawn over earlier ones where they overlap.
    """
    if labels is None:
        return None
    if isinstance(labels, Mapping):
        labels = list(labels.values())
    if isinstance(labels, (list, tuple)) or np.ndim(labels) == 4:
        label_map = np.zeros(shape, np.uint16)
        for index, mask in enumerate(labels):
            label_map[np.asarray(mask) != 0] = index + 1
        return label_map
    labels = np.asarray(labels)
    if labels.shape != tuple(shape):
        raise ValueError(f"labels shape {labels.shape} differs from the image's {tuple(shape)}")
    return labels.astype(np.uint16) if labels.dtype == bool else labels


def _window(volume: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    """The display range: given, or the 1st..99th percentile (of a subsample when large)."""
    if window is not None:
        return float(window[0]), float(window[1])
    step = max(1, int(round((volume.size / 4e6) ** (1 / 3))))
    low, high = np.percentile(volume[::step, ::step, ::step], [1.0, 99.0])
    return float(low), float(high) if high > low else float(low) + 1.0  # flat image: any range


def _slice_indices(size: int, extent: np.ndarray | None, count: int) -> list[int]:
    """``count`` evenly spaced slices inside the labelled extent, else inside the volume."""
    if extent is not None and extent.any():
        present = np.flatnonzero(extent)
        low, high = int(present[0]), int(present[-1])
    else:
        low, high = 0, size - 1
    if high - low + 1 <= count:
        return list(range(low, high + 1))
    return sorted({int(round(index)) for index in np.linspace(low, high, count + 2)[1:-1]})


def _overlay(label_slice: np.ndarray, alpha: float) -> np.ndarray:
    rgba = np.zeros((*label_slice.shape, 4))
    for label in np.unique(label_slice):
        if label != 0:
            rgba[label_slice == label] = (*label_color(label), alpha)
    return rgba


def _draw_slice(
    ax: Axes,
    image_slice: np.ndarray,
    label_slice: np.ndarray | None,
    aspect: float,
    window: tuple[float, float],
    alpha: float,
) -> None:
    # Rows of a displayed slice are its second in-plane axis: transpose, origin at the bottom left.
    ax.imshow(
        image_slice.T,
        cmap="gray",
        vmin=window[0],
        vmax=window[1],
        origin="lower",
        aspect=aspect,
        interpolation="nearest",
    )
    if label_slice is not None and label_slice.any():
        ax.imshow(
            _overlay(label_slice.T, alpha), origin="lower", aspect=aspect, interpolation="nearest"
        )
    ax.set_xticks([])
    ax.set_yticks([])


def overview(
    image: Any,
    labels: Any = None,
    *,
    spacing_mm: Sequence[float] | None = None,
    slices_per_axis: int = 5,
    window: tuple[float, float] | None = None,
    alpha: float = 0.45,
    title: str | None = None,
    panel_inches: float = 1.8,
) -> Figure:
    """A montage of slices along x, y and z with coloured label overlays.

    Parameters
    ----------
    image
        ``[X, Y, Z]`` array, a 4-D ``[1, X, Y, Z]`` session input, or an
        :class:`nni_jupyter.io.Image` (whose spacing is used).
    labels
        Label map ``[X, Y, Z]`` (0 = background), a bool mask, or a list/stack/dict of masks.
    spacing_mm
        Voxel size (x, y, z) in mm, for the display aspect; default the image's, else isotropic.
    slices_per_axis
        Slices shown per row; spread over the labelled extent when labels are given.
    window
        Display range ``(low, high)`` of intensities; default the 1st to 99th percentile.
    alpha
        Overlay opacity, 0..1.
    title
        Figure title.
    panel_inches
        Size of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Three rows (slices across x, y, z), ``slices_per_axis`` columns.
    """
    if spacing_mm is None:
        spacing_mm = getattr(image, "spacing_mm", (1.0, 1.0, 1.0))
    volume = np.asarray(getattr(image, "array", image))
    if volume.ndim == 4 and volume.shape[0] == 1:
        volume = volume[0]
    if volume.ndim != 3:
        raise ValueError(f"image must be 3-D [X, Y, Z] (or [1, X, Y, Z]); got shape {volume.shape}")
    label_map = as_label_map(labels, volume.shape)
    window = _window(volume, window)
    figure = _figure(
        figsize=(panel_inches * slices_per_axis, panel_inches * 3), layout="constrained"
    )
    axes = figure.subplots(3, slices_per_axis, squeeze=False)
    for axis in range(3):
        rest = [a for a in range(3) if a != axis]
        extent = None if label_map is None else np.asarray(label_map.any(axis=tuple(rest)))
        indices = _slice_indices(volume.shape[axis], extent, slices_per_axis)
        # Display aspect = height/width of one pixel = spacing of the vertical over the horizontal.
        aspect = float(spacing_mm[rest[1]]) / float(spacing_mm[rest[0]])
        for column, ax in enumerate(axes[axis]):
            if column >= len(indices):
                ax.set_axis_off()
                continue
            index = indices[column]
            take = np.take(volume, index, axis=axis)
            label_slice = None if label_map is None else np.take(label_map, index, axis=axis)
            _draw_slice(ax, take, label_slice, aspect, window, alpha)
            ax.set_title(f"{AXIS_NAMES[axis]} = {index}", fontsize=8)
        axes[axis][0].set_ylabel(f"{AXIS_NAMES[rest[1]]} ↑  {AXIS_NAMES[rest[0]]} →", fontsize=8)
    if title:
        figure.suptitle(title)
    return figure


def _dice_sequences(results: Any) -> tuple[list[np.ndarray], list[str]]:
    """Per-object Dice sequences and names from the accepted result shapes."""
    if isinstance(results, Mapping) and "dice" not in results:
        names = [str(key) for key in results]
        results = list(results.values())
    elif isinstance(results, Mapping) or hasattr(results, "dice"):
        results, names = [results], []
    else:
        names = []
    sequences = []
    for index, item in enumerate(results):
        if isinstance(item, Mapping):
            dice = item.get("dice")
            name = item.get("name", item.get("object"))
        else:
            dice, name = getattr(item, "dice", item), getattr(item, "name", None)
        if dice is None:
            raise ValueError(f"result {index} has no 'dice' list; got {item!r:.80}")
        sequences.append(np.asarray(dice, dtype=float).ravel())
        if len(names) <= index:
            names.append(str(name) if name is not None else f"object {index + 1}")
    return sequences, names


def dice_curve(
    results: Any,
    *,
    title: str | None = "Dice per interaction",
    show_objects: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """Dice against the number of interactions, per object and their mean.

    Parameters
    ----------
    results
        The Dice after each interaction, per object: a list of sequences, a list of dicts with a
        ``"dice"`` list (and optionally ``"name"``), objects with a ``dice`` attribute, a dict
        ``{name: sequence}``, or one such dict/object. This is what ``nni_jupyter.evaluation``
        returns.
        An object with fewer values than the longest keeps its last Dice in the mean.
    title
        Axes title.
    show_objects
        Draw each object's curve (thin) under the mean (thick).
    ax
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the plot.
    """
    from matplotlib.ticker import MaxNLocator

    sequences, names = _dice_sequences(results)
    if not sequences or all(sequence.size == 0 for sequence in sequences):
        raise ValueError("no Dice values to plot; expected at least one non-empty sequence")
    if ax is None:
        ax = _figure(figsize=(5.0, 3.5), layout="constrained").subplots()
    steps = max(sequence.size for sequence in sequences)
    # An object that needed fewer interactions keeps its last Dice for the mean.
    padded = np.full((len(sequences), steps), np.nan)
    for row, sequence in enumerate(sequences):
        padded[row, : sequence.size] = sequence
        if 0 < sequence.size < steps:
            padded[row, sequence.size :] = sequence[-1]
    interactions = np.arange(1, steps + 1)
    if show_objects and len(sequences) > 1:
        for row, name in enumerate(names):
            own = sequences[row]
            ax.plot(
                interactions[: own.size],
                own,
                lw=1,
                alpha=0.5,
                color=label_color(row + 1),
                label=name,
            )
    mean = np.nanmean(padded, axis=0)
    label = "mean" if len(sequences) > 1 else names[0]
    ax.plot(interactions, mean, lw=2.5, color="black", marker="o", ms=3, label=label)
    ax.set_xlabel("interactions")
    ax.set_ylabel("Dice")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(0.8, steps + 0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return ax.figure.figure  # the root figure, also when ``ax`` lies in a subfigure
