"""seg.snapshot(): one slice as a PNG, with masks in the widget's colours, laid out as the widget
draws it, and the Segmenter's output carrying it beside the widget."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
from _png import decode_png

import nni_jupyter as nj
from nni_jupyter.palette import object_color
from nni_jupyter.widget import snapshot as pictures


@pytest.fixture(scope="module")
def seg():
    image = np.zeros((40, 30, 20), np.float32)
    image[5:15, 5:25, :] = 100.0 + np.arange(20) % 3  # a bright bar: low x, most of y
    seg = nj.Segmenter(image, model="demo", window=(50, 100))
    box = np.zeros(image.shape, np.uint8)
    box[5:15, 5:25, 8:12] = 1
    seg.add_mask(box)
    seg.rename_object(1, "bar")
    seg.new_object("corner")
    corner = np.zeros(image.shape, np.uint8)
    corner[30:38, 0:4, 10] = 1  # high x, low y
    seg.add_mask(corner)
    yield seg
    seg.close()


def test_axial_picture_puts_x_right_and_y_down_in_object_colours(seg) -> None:
    picture = seg.snapshot(axis=2, index=10)
    rgb = decode_png(picture.png)
    assert (picture.height, picture.width) == rgb.shape[:2]
    image_width = picture.width - pictures.LEGEND_WIDTH
    assert picture.height == 192 and image_width == 256  # 40 x 30 voxels at 1 mm, long side 256
    scale = image_width / 40

    def at(x: float, y: float) -> np.ndarray:
        return rgb[int((y + 0.5) * scale), int((x + 0.5) * scale)].astype(int)

    # the bar's inside is a blend of white (level 50, width 100: 100 is white) and its colour
    bar = np.asarray(object_color(1))
    assert np.abs(at(10, 15) - (0.5 * 255 + 0.5 * bar)).max() <= 2
    # the corner (x 30..37, y 0..3) is top right, in object 2's colour blended with black
    assert np.abs(at(34, 1.5) - 0.5 * np.asarray(object_color(2))).max() <= 2
    # and nothing in the bottom right
    assert (at(34, 25) == 0).all()


def test_sagittal_picture_draws_z_upwards(seg) -> None:
    rgb = decode_png(seg.snapshot(axis=0, index=10).png)  # plane [y, z]: y right, z up
    height = rgb.shape[0]
    scale = height / 20
    top_row, bottom_row = int(0.5 * scale), height - 1 - int(0.5 * scale)
    column = int(15 * scale)  # y = 15 inside the bar
    colour = np.asarray(object_color(1))
    mid_row = height - 1 - int(10 * scale)  # z = 10 is masked (8..11)
    assert np.abs(rgb[mid_row, column] - (0.5 * 255 + 0.5 * colour)).max() <= 2
    assert rgb[top_row, column].tolist() == [255, 255, 255]  # unmasked bar, white
    assert rgb[bottom_row, column].tolist() == [255, 255, 255]


def test_names_travel_in_the_png_and_legend(seg) -> None:
    png = seg.snapshot().png
    assert b"1: bar; 2: corner" in png  # the tEXt chunk
    pytest.importorskip("PIL", reason="names drawn in the legend need Pillow ([plot] extra)")
    legend = decode_png(png)[:, -pictures.LEGEND_WIDTH :]
    assert (legend > 200).all(axis=2).sum() > 100  # light text on the dark panel


def test_default_is_the_view_and_cheap(seg) -> None:
    seg.axis = 1
    seg.slice_index = [0, 7, 0]
    started = time.perf_counter()
    picture = seg.snapshot()
    assert time.perf_counter() - started < 0.5
    assert (picture.axis, picture.index) == (1, 7)
    assert picture._repr_png_() == picture.png
    seg.axis = 2


def test_bad_slice_is_refused(seg) -> None:
    with pytest.raises(ValueError, match="axis must be 0, 1 or 2"):
        seg.snapshot(axis=3)
    with pytest.raises(ValueError, match="outside axis 2"):
        seg.snapshot(axis=2, index=20)


def test_output_carries_the_picture_beside_the_widget(seg) -> None:
    data, metadata = seg._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert (
        decode_png(base64.b64decode(data["image/png"])).shape[1] == metadata["image/png"]["width"]
    )
