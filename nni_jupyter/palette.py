"""Object colours: one palette for the widget's overlay, the overview plots and the 3-D view.

Object ``id`` (the value in a label map, 1-based) gets ``PALETTE[(id - 1) % len(PALETTE)]``
everywhere, so one object has one colour in every view. The browser gets the same palette through
``js/contract.gen.ts`` (see :mod:`nni_jupyter.widget.contract`).
"""

from __future__ import annotations

#: RGB 0..255, Okabe-Ito (readable with colour-vision deficiencies), then tab10 extras.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (148, 103, 189),
    (140, 86, 75),
    (188, 189, 34),
    (23, 190, 207),
    (227, 119, 194),
)


def object_color(object_id: int) -> tuple[int, int, int]:
    """RGB 0..255 of object (label value) ``object_id``; ids past the palette's length cycle.

    Raises
    ------
    ValueError
        If ``object_id`` < 1 (0 is the background, which has no colour).
    """
    object_id = int(object_id)
    if object_id < 1:
        raise ValueError(f"object ids start at 1 (0 is the background); got {object_id}")
    return PALETTE[(object_id - 1) % len(PALETTE)]
