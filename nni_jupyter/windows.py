"""Display windows: the CT presets, the first window of an image and a window from user input.

One set of presets serves the Python API (``set_window("lung")``), the save file and the browser's
window menu (sent to it through ``js/contract.gen.ts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class WindowPreset:
    """One entry of the browser's window menu (sent to it through ``js/contract.gen.ts``).

    ``group`` is the menu's option group (``""`` for none); ``window`` is a fixed
    ``(level, width)``, or None for one the browser computes from :func:`intensity_stats`.
    """

    id: str
    label: str
    group: str
    window: tuple[float, float] | None


WINDOW_PRESETS = (
    WindowPreset("auto", "Auto", "", None),
    WindowPreset("full", "Full range", "", None),
    WindowPreset("soft", "Soft tissue", "CT", (40.0, 400.0)),
    WindowPreset("lung", "Lung", "CT", (-600.0, 1500.0)),
    WindowPreset("bone", "Bone", "CT", (400.0, 1800.0)),
    WindowPreset("brain", "Brain", "CT", (40.0, 80.0)),
)
#: Standard CT display windows, ``name: (level, width)`` in Hounsfield units, named by their
#: lower-case menu label (``"soft tissue"``, ``"lung"``, ...).
CT_WINDOWS: dict[str, tuple[float, float]] = {
    preset.label.lower(): preset.window
    for preset in WINDOW_PRESETS
    if preset.group == "CT" and preset.window is not None
}


def looks_like_ct(stats: dict[str, float]) -> bool:
    """Whether intensities look like CT in Hounsfield units.

    Air sits near -1000 HU (scanners pad with values down to about -3024), and a body holds
    tissue above 100 HU (contrast, bone). MRI, microscopy and z-scored images have neither.
    """
    return -3100 <= stats["min"] <= -900 and stats["p005"] <= -500 and stats["p995"] >= 100


def default_window(stats: dict[str, float]) -> list[float]:
    """Return ``[level, width]`` for the first view.

    CT (see :func:`looks_like_ct`) opens in the soft-tissue window, as radiology viewers do: a
    window over the whole HU range would show every organ in the same grey. Anything else spans
    the 0.5..99.5 percentiles (width at least 1e-6).
    """
    if looks_like_ct(stats):
        return list(CT_WINDOWS["soft tissue"])
    low, high = stats["p005"], stats["p995"]
    return [(low + high) / 2, max(high - low, 1e-6)]


def window_for(value: Any) -> list[float]:
    """A ``[level, width]`` from a CT preset name or a ``(level, width)`` pair."""
    if isinstance(value, str):
        if value not in CT_WINDOWS:
            raise ValueError(f"unknown window {value!r}; presets: {', '.join(CT_WINDOWS)}")
        return list(CT_WINDOWS[value])
    try:
        level, width = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"a window is a preset name ({', '.join(CT_WINDOWS)}) or (level, width); got {value!r}"
        ) from None
    if not (np.isfinite(level) and np.isfinite(width) and width > 0):
        raise ValueError(f"a window needs a finite level and a width > 0; got {value!r}")
    return [level, width]
