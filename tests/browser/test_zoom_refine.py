"""A zoomed-in view of a lazy image wider than the display refines to full resolution, in a real
JupyterLab and Debian Chromium.

The image is a 1-voxel checkerboard in a Zarr array 2048 voxels wide: its planes go to the browser
every 2nd voxel, where the checkerboard vanishes (every sample has one colour). Zoomed in, the view
asks for the visible region at stride 1 and the checkerboard shows, pixel for pixel; the next
slice (the checkerboard's phase flips) shows its own tile, never the previous one's.

Run: ``pytest -m browser tests/browser/test_zoom_refine.py``. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import io

import pytest

from . import lab
from .widget_page import WIDGET

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement()
if _missing:
    pytest.skip(f"browser zoom test skipped: {_missing}", allow_module_level=True)
pytest.importorskip("zarr", reason="the [zarr] extra is not installed")
Image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot")

ARTIFACTS = lab.REPO / "test-artifacts"
SHAPE = (2048, 40, 30)  # axis 2's planes are 2048 x 40: sent every 2nd voxel

SETUP_CELL = f"""\
import numpy as np
import zarr
from nni_jupyter import Segmenter

x, y, z = np.indices({SHAPE})
stored = zarr.create_array("checker.zarr", shape={SHAPE}, chunks=(256, 40, 30), dtype="u1",
                           overwrite=True)
stored[...] = ((x + y + z) % 2 * 255).astype(np.uint8)
seg = Segmenter(zarr.open_array("checker.zarr", mode="r"), model="demo", window=(127.5, 255))
seg"""

# the refined canvas: its first row and column, red channel
READ_TILE = """() => {
  const canvas = document.querySelector('[data-testid=nni-refined-canvas]');
  const ctx = canvas.getContext('2d');
  const row = ctx.getImageData(0, 0, Math.min(canvas.width, 16), 1).data;
  const col = ctx.getImageData(0, 0, 1, Math.min(canvas.height, 16)).data;
  const coarse = document.querySelector('[data-testid=nni-image-canvas]');
  const all = coarse.getContext('2d').getImageData(0, 0, coarse.width, coarse.height).data;
  const reds = Array.from(all).filter((_, k) => k % 4 === 0);
  return {row: Array.from(row).filter((_, k) => k % 4 === 0),
          col: Array.from(col).filter((_, k) => k % 4 === 0),
          coarse: [Math.min(...reds), Math.max(...reds)]};
}"""


def test_zooming_in_refines_a_lazy_plane_to_full_resolution(tmp_path):
    workdir = ARTIFACTS / "zoom-notebook"
    workdir.mkdir(parents=True, exist_ok=True)
    lab.write_notebook(workdir / "zoom.ipynb", [SETUP_CELL])
    with (
        lab.jupyter_server(workdir, ARTIFACTS / "zoom-jupyter.log") as base,
        lab.chromium(width=1200, height=900) as page,
    ):
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        lab.open_notebook(page, base, "zoom.ipynb")
        lab.run_all_cells(page)
        lab.wait_for_widget(page, ARTIFACTS / "zoom_00_no_widget.png")
        view = page.locator("[data-testid=nni-view]").first
        assert view.get_attribute("data-refined-stride") in (None, "")
        first = int(view.get_attribute("data-shown-index"))
        coarse = page.evaluate(READ_TILE.replace("nni-refined-canvas", "nni-image-canvas"))
        assert coarse["coarse"] == [255 * (first % 2)] * 2, "the coarse plane should be one colour"

        page.evaluate(f"() => {WIDGET}.focus()")
        for _ in range(8):  # 1.25 ** 8 = 6: about 2 screen pixels per voxel
            page.keyboard.press("+")
        for z in (first, first + 1):  # then the next slice: its own tile, never the stale one
            if z != int(view.get_attribute("data-shown-index")):
                page.keyboard.press("ArrowUp")
            page.wait_for_function(
                f"() => {WIDGET}.nni.tiles.some(tile => tile.index === {z})", timeout=30_000
            )
            page.wait_for_selector(
                f"[data-testid=nni-view][data-shown-index='{z}'][data-refined-stride='1']",
                timeout=30_000,
                state="attached",
            )
            tile = page.evaluate(f"() => {WIDGET}.nni.tiles.slice(-1)[0]")
            assert tile["index"] == z and tile["stride"] == 1 and tile["asked"] == 1, tile
            (u0, u1), (v0, v1) = tile["region"]
            assert 0 < u1 - u0 < SHAPE[0] and (v0, v1) == (0, SHAPE[1]), tile
            # the tile holds every voxel: the checkerboard alternates along rows and columns
            pixels = page.evaluate(READ_TILE)
            want = [255 * ((u0 + v0 + z + k) % 2) for k in range(16)]
            assert pixels["row"] == want and pixels["col"] == want, (z, pixels)

        # and the screen shows it: bright and dark pixels side by side inside the view
        shot = view.locator(".nni-stage").screenshot(path="/tmp/zoom_refined.png")
        pixels = Image.open(io.BytesIO(shot)).convert("L")
        width, height = pixels.size
        middle = [pixels.getpixel((x, height // 2)) for x in range(width // 4, 3 * width // 4)]
        assert max(middle) > 200 and min(middle) < 50, "no checkerboard on screen"
        flips = sum((a > 127) != (b > 127) for a, b in zip(middle, middle[1:], strict=False))
        assert flips > len(middle) // 8, f"only {flips} bright/dark changes across the view"
        page.screenshot(path=str(ARTIFACTS / "zoom_01_refined.png"))
        assert not errors, f"errors in the page: {errors}"
