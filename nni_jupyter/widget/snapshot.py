"""A picture of a Segmenter's view for readers without a kernel: one slice as a PNG.

A notebook rendered without a kernel (GitHub, nbviewer, ``jupyter nbconvert --to html``, Jupyter
Book) cannot draw the widget. So the Segmenter's output carries, beside the widget, a PNG of its
view (:func:`display_bundle`): the slice it shows, in its window, with every visible object's
mask in the widget's colours (:mod:`nni_jupyter.palette`) and a legend of object names.
:func:`render` makes one for any slice at any time (``seg.snapshot(axis=, index=)``).

The picture is laid out as the widget draws a slice (``js/transform.ts``): the slice's first
in-plane axis runs to the right, the second down for axial slices (``axis=2``) and up for the
other two, each voxel as wide as its spacing in mm. Only the one slice is read, and the picture
is at most :data:`MAX_SIDE` pixels on its longer side, so it costs a few milliseconds.

The picture in the output is the view when the output was made. It is not replaced later: the
kernel cannot tell a headless run from a front end that has not drawn the view yet (JupyterLab's
Run All reaches the next cell first), and replacing a live widget's output draws it again and
leaks the old view. ``seg.snapshot()`` in a later cell keeps a picture of the masks as they are.

Text (legend, slice label) is drawn with Pillow when it is installed (it comes with the
``[plot]`` extra's matplotlib); without it the legend shows each object's colour and id
only, and the names travel in the PNG's text chunk.
"""

from __future__ import annotations

import base64
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..palette import object_color
from ..volumes import LazyVolume
from ..volumes.display import DisplayReader, stride_for
from ..windows import default_window, window_for
from .slices import intensity_stats

if TYPE_CHECKING:
    from ..annotation import Annotation

#: The picture's longer side in pixels, at most; a smaller slice is enlarged to at least MIN_SIDE.
MAX_SIDE = 512
MIN_SIDE = 256
LEGEND_WIDTH = 180
AXIS_NAMES = ("x", "y", "z")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BACKGROUND = (24, 24, 24)
_TEXT = (235, 235, 235)


@dataclass(frozen=True)
class Snapshot:
    """A PNG picture of one slice with its masks and legend.

    Shown as an image by Jupyter and by static renderers (``_repr_png_``); ``png`` holds the
    bytes, ``save(path)`` writes them.

    Attributes
    ----------
    png
        The PNG file's bytes.
    axis, index
        The slice shown.
    width, height
        The picture's size in pixels.
    """

    png: bytes
    axis: int
    index: int
    width: int
    height: int

    def _repr_png_(self) -> bytes:
        return self.png

    def save(self, path: Any) -> Any:
        """Write the PNG to ``path`` (a str or Path); return the path."""
        from pathlib import Path

        target = Path(path)
        target.write_bytes(self.png)
        return target


def render(
    annotation: Annotation,
    axis: int = 2,
    index: int | None = None,
    window: Any = None,
    opacity: float = 0.5,
) -> Snapshot:
    """A :class:`Snapshot` of slice ``index`` along ``axis`` of an annotation.

    Parameters
    ----------
    annotation
        The image and its objects (a Segmenter's ``seg.annotation``).
    axis
        0, 1 or 2 (``x``, ``y``, ``z`` of the array).
    index
        The slice; default the middle one.
    window
        ``(level, width)`` of the grey values; default the annotation's window.
    opacity
        Of the masks' fill (their outline is drawn opaque).

    Raises
    ------
    ValueError
        For an axis other than 0, 1, 2 or an index outside the image.
    """
    shape = tuple(int(n) for n in annotation.volume.shape)
    if axis not in (0, 1, 2) or isinstance(axis, bool):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}")
    index = shape[axis] // 2 if index is None else int(index)
    if not 0 <= index < shape[axis]:
        raise ValueError(f"slice index {index} is outside axis {axis} (0..{shape[axis] - 1})")
    level, width = _window_of(annotation, window)
    grey, owner, stride = _read_plane(annotation, axis, index)
    p, q = (a for a in range(3) if a != axis)
    spacing = [_positive(s) * stride for s in annotation.spacing_mm]
    p_index, q_index = _display_grid(grey.shape, (spacing[p], spacing[q]), flip=axis != 2)
    grey, owner = grey[np.ix_(p_index, q_index)], owner[np.ix_(p_index, q_index)]
    objects = [o for o in annotation.objects if o.get("visible", True)]
    picture = _compose(_grey_rgb(grey, level, width), owner, objects, opacity)
    title = f"{AXIS_NAMES[axis]} = {index} / {shape[axis] - 1}"
    legend = _legend(objects, picture.shape[0], title)
    rgb = np.concatenate([picture, legend], axis=1)
    names = "; ".join(f"{o['id']}: {o['name']}" for o in objects)
    png = encode_png(rgb, {"Title": title, "Description": f"objects: {names or 'none'}"})
    return Snapshot(png, axis, index, int(rgb.shape[1]), int(rgb.shape[0]))


def display_bundle(widget_bundle: Any, snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    """A widget's mime bundle (``data`` or ``(data, metadata)``) with the snapshot beside it.

    Live front ends draw the widget; renderers without a kernel fall back to ``image/png``.
    """
    data, metadata = _as_pair(widget_bundle)
    data = {**data, "image/png": base64.b64encode(snapshot.png).decode("ascii")}
    size = {"width": snapshot.width, "height": snapshot.height}
    return data, {**metadata, "image/png": size}


def encode_png(rgb: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """The PNG file of an ``(height, width, 3)`` uint8 RGB array (zlib, no filter), with
    ``text`` as Latin-1 ``tEXt`` chunks (other characters become ``?``)."""
    height, width, channels = rgb.shape
    if channels != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (height, width, 3) uint8 RGB; got {rgb.shape} {rgb.dtype}")
    raw = np.zeros((height, 1 + 3 * width), np.uint8)  # each row: filter byte 0, then pixels
    raw[:, 1:] = rgb.reshape(height, 3 * width)
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    for key, value in (text or {}).items():
        chunks.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + _latin1(value)))
    chunks.append(_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)))
    chunks.append(_chunk(b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(chunks)


def _chunk(tag: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def _latin1(text: str) -> bytes:
    return text.encode("latin-1", errors="replace")


def _window_of(annotation: Annotation, window: Any) -> tuple[float, float]:
    """The window asked for, else the annotation's (a Segmenter's), else the first window."""
    chosen = window if window is not None else annotation.window
    if chosen is None:
        chosen = default_window(intensity_stats(annotation.volume))
    level, width = window_for(chosen)
    return float(level), float(width)


def _read_plane(
    annotation: Annotation, axis: int, index: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The image plane, the object ids over it (the plane's two axes in increasing order) and
    the stride they were read at (a lazy image's wide plane is read every few voxels)."""
    volume = annotation.volume
    key: list[Any] = [slice(None)] * 3
    key[axis] = index
    if isinstance(volume, LazyVolume) and volume.ndim == 3:
        plane_shape = [n for a, n in enumerate(volume.shape) if a != axis]
        stride = stride_for((plane_shape[0], plane_shape[1]), MAX_SIDE)
        grey = np.asarray(DisplayReader(volume).slice(axis, index, stride), dtype=np.float32)
    else:
        grey, stride = np.asarray(volume[tuple(key)], dtype=np.float32), 1
    runner = annotation.runner
    with runner.lock:
        owner = np.asarray(runner.store.owner[tuple(key)])
    return grey, owner[::stride, ::stride][: grey.shape[0], : grey.shape[1]], stride


def _positive(value: Any) -> float:
    number = float(value)
    return number if np.isfinite(number) and number > 0 else 1.0


def _display_grid(
    plane: tuple[int, ...], spacing_mm: tuple[float, float], flip: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-voxel indices along the plane's first axis (the picture's columns) and its
    second (the picture's rows; reversed when ``flip``, as the widget draws sagittal and coronal
    slices upwards).

    The picture keeps the slice's aspect in mm; its longer side is between MIN_SIDE and
    MAX_SIDE pixels (the slice's own size when it lies in between).
    """
    n_p, n_q = plane
    extent_p, extent_q = n_p * spacing_mm[0], n_q * spacing_mm[1]
    long_side = min(max(n_p, n_q, MIN_SIDE), MAX_SIDE)
    per_mm = long_side / max(extent_p, extent_q)
    columns = max(1, round(extent_p * per_mm))
    rows = max(1, round(extent_q * per_mm))
    p_index = np.minimum((np.arange(columns) + 0.5) * n_p / columns, n_p - 1).astype(int)
    q_index = np.minimum((np.arange(rows) + 0.5) * n_q / rows, n_q - 1).astype(int)
    return p_index, q_index[::-1] if flip else q_index


def _grey_rgb(plane: np.ndarray, level: float, width: float) -> np.ndarray:
    """The plane (indexed [p, q]) as an RGB picture (indexed [row = q, column = p])."""
    low = level - width / 2
    scaled = np.clip((np.nan_to_num(plane.T) - low) / max(width, 1e-12), 0.0, 1.0)
    grey = (scaled * 255 + 0.5).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _compose(
    rgb: np.ndarray, owner: np.ndarray, objects: list[dict[str, Any]], opacity: float
) -> np.ndarray:
    """Blend each object's mask over the grey picture, with an opaque outline."""
    ids = owner.T
    out = rgb.astype(np.float32)
    edge = _edges(ids)
    for info in objects:
        mask = ids == int(info["id"])
        if not mask.any():
            continue
        colour = np.asarray(_colour(info), np.float32)
        out[mask] = (1 - opacity) * out[mask] + opacity * colour
        out[mask & edge] = colour
    return out.astype(np.uint8)


def _colour(info: dict[str, Any]) -> tuple[int, int, int]:
    colour = info.get("color")
    if isinstance(colour, (list, tuple)) and len(colour) == 3:
        red, green, blue = (int(c) for c in colour)
        return red, green, blue
    return object_color(int(info["id"]))


def _edges(ids: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbour holds another id (the outline of each region)."""
    edge = np.zeros(ids.shape, bool)
    edge[1:, :] |= ids[1:, :] != ids[:-1, :]
    edge[:-1, :] |= ids[:-1, :] != ids[1:, :]
    edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    return edge


def _legend(objects: list[dict[str, Any]], height: int, title: str) -> np.ndarray:
    """A panel listing each object's colour, id and name (names need Pillow)."""
    panel = np.empty((height, LEGEND_WIDTH, 3), np.uint8)
    panel[:] = _BACKGROUND
    line = 18
    for row, info in enumerate(objects[: max(0, (height - 2 * line) // line)]):
        top = 8 + line * (row + 1)
        panel[top : top + 12, 8:20] = _colour(info)
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        return panel
    image = Image.fromarray(panel)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(13) if _pillow_sizes() else ImageFont.load_default()
    draw.text((8, 4), title, fill=_TEXT, font=font)
    for row, info in enumerate(objects[: max(0, (height - 2 * line) // line)]):
        top = 8 + line * (row + 1)
        draw.text((26, top - 1), f"{info['id']} {info['name']}"[:22], fill=_TEXT, font=font)
    return np.asarray(image, np.uint8)


def _pillow_sizes() -> bool:
    """Whether Pillow's default font takes a size (Pillow 10.1 and later)."""
    import inspect

    from PIL import ImageFont

    return "size" in inspect.signature(ImageFont.load_default).parameters


# ---- a Segmenter's output ---------------------------------------------------------------------


def of_view(seg: Any, axis: int | None = None, index: int | None = None) -> Snapshot:
    """A :class:`Snapshot` of a Segmenter as its view shows it: its axis and slice unless
    given, its window and mask opacity."""
    axis = int(seg.axis) if axis is None else axis
    if index is None and axis in (0, 1, 2):
        index = int(seg.slice_index[axis])
    return render(seg.annotation, axis, index, list(seg.window), float(seg.opacity))


def view_bundle(seg: Any, widget_bundle: Any) -> Any:
    """The Segmenter's mime bundle: the widget, and the PNG of its view for static readers.

    A picture that cannot be made (a closed or failing image) leaves the widget's bundle as it
    is, with a warning: the display itself never fails for the picture's sake.
    """
    if widget_bundle is None:
        return None  # not a widget view
    try:
        picture = of_view(seg)
    except Exception as error:  # noqa: BLE001 - the widget shows even when the picture fails
        warnings.warn(
            f"nni_jupyter: no static picture of the view ({type(error).__name__}: {error})",
            stacklevel=3,
        )
        return widget_bundle
    return display_bundle(widget_bundle, picture)


def _as_pair(bundle: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(bundle, tuple):
        return bundle[0], bundle[1]
    return bundle, {}
