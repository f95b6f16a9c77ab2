"""The objects of a label map with their names, class ids and colours, as every writer sees them."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from ..palette import object_color
from ..volumes.sparse import SparseVolume

T = TypeVar("T")
#: Per-object values: ``{label: value}``, or one value per label in order (label ``n`` is item
#: ``n - 1``); labels it does not cover get the default.
PerObject = Mapping[int, T] | Sequence[T] | None


@dataclass(frozen=True)
class Segment:
    """One object: its value in the label map, name, class id and RGB 0..255 colour."""

    label: int
    name: str
    class_id: int
    color: tuple[int, int, int]

    @property
    def hex_color(self) -> str:
        """The colour as ``#rrggbb``."""
        return "#{:02x}{:02x}{:02x}".format(*self.color)


def require(extra: str, *modules: str) -> list[ModuleType]:
    """Import ``modules``, or raise an ImportError naming the extra that installs them."""
    try:
        return [importlib.import_module(name) for name in modules]
    except ImportError as error:
        raise ImportError(
            f"this export needs {', '.join(modules)}; install them with: "
            f"pip install nni_jupyter[{extra}]"
        ) from error


def check_labels(labels: Any) -> np.ndarray:
    """The label map as uint16 ``[X, Y, Z]``, or a ValueError saying what is wrong."""
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"labels must be a 3-D [X, Y, Z] label map; got shape {labels.shape}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise ValueError(f"labels must be an integer label map; got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > np.iinfo(np.uint16).max):
        raise ValueError(f"label values must lie in 0..65535; got {labels.min()}..{labels.max()}")
    return labels.astype(np.uint16, copy=False)


def per_object(
    objects: Sequence[Mapping[str, Any]],
) -> tuple[dict[int, str], dict[int, int], dict[int, tuple[int, ...]]]:
    """Names, class ids and colours by label, from ``{id, name, class_id, color}`` dicts (the
    Segmenter's ``objects``)."""
    names = {int(o["id"]): str(o["name"]) for o in objects}
    class_ids = {int(o["id"]): int(o["class_id"]) for o in objects}
    colors = {int(o["id"]): tuple(int(c) for c in o["color"]) for o in objects}
    return names, class_ids, colors


def _pick(values: PerObject[T], label: int, default: T) -> T:
    if values is None:
        return default
    if isinstance(values, Mapping):
        return values.get(label, default)
    return values[label - 1] if label <= len(values) else default


def segments(
    labels: np.ndarray | SparseVolume,
    names: PerObject[str] = None,
    class_ids: PerObject[int] = None,
    colors: PerObject[Sequence[int]] = None,
) -> list[Segment]:
    """The objects present in ``labels`` (dense, or a :class:`~nni_jupyter.volumes.SparseVolume`
    read chunk by chunk), in label order, with defaults for what is not given:
    ``"object <label>"``, class id = label, the palette's colour (:mod:`nni_jupyter.palette`)."""
    present = labels.counts() if isinstance(labels, SparseVolume) else np.unique(labels)
    found = []
    for label in (int(v) for v in present if v != 0):
        color = tuple(int(c) for c in _pick(colors, label, object_color(label)))
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(f"colour of object {label} must be [r, g, b] in 0..255; got {color}")
        found.append(
            Segment(
                label=label,
                name=str(_pick(names, label, f"object {label}")),
                class_id=int(_pick(class_ids, label, label)),
                color=(color[0], color[1], color[2]),
            )
        )
    return found
