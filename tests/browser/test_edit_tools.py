"""Hand edits in a real JupyterLab and Debian Chromium: a box on an organ, then an eraser stroke
across its mask and a brush stroke beside it, drawn with the mouse.

The kernel's mask after each stroke must be the box's mask minus (then plus) the brush rule's discs
along the stroke the browser sent, with the radius set in the widget; the sent stroke must follow
the mouse path (points, never a mask); the browser's label volume must show what the kernel holds;
two undos give back the box's mask. Screenshots (one with a stroke in progress) go to
``test-artifacts/``.

Run: ``pytest -m browser tests/browser/test_edit_tools.py``.
"""

from __future__ import annotations

import pytest

from . import lab
from .widget_page import (
    WIDGET,
    drag,
    kernel_json,
    prompts_finished,
    show_slice,
    to_client,
    wait_prompt,
)

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement()
if _missing:
    pytest.skip(f"browser edit-tools test skipped: {_missing}", allow_module_level=True)

ARTIFACTS = lab.REPO / "test-artifacts"
ORGAN = "liver"

CELLS = [
    """\
import numpy as np
import nni_jupyter as nj
from nni_jupyter import Segmenter
from nni_jupyter.data import LABEL_VALUES, phantom
from nni_jupyter.annotation.brush import stroke_region

image, truth = phantom(seed=11)
seg = Segmenter(image, model="demo")
# The widget's own bundle, shown as is: widget/snapshot.py's headless fallback may swap the
# output for a picture after the cell when the page has not yet drawn the view (a loaded CPU).
from IPython.display import display
_bundle = seg._repr_mimebundle_()
_data, _meta = _bundle if isinstance(_bundle, tuple) else (_bundle, {})
display(_data, raw=True, metadata=_meta)""",
]

# In the kernel: the organ's largest slice and box, and the mask a stroke should leave.
HELPERS = """\
def _organ(name):
    organ = truth == LABEL_VALUES[name]
    z = int(organ.sum(axis=(0, 1)).argmax())
    xs, ys = np.nonzero(organ[:, :, z])
    return {"z": z, "box": [[int(xs.min()), int(ys.min())], [int(xs.max()), int(ys.max())]]}

def _disc(z):
    prompt = seg.prompts[-1]
    plane = np.zeros(seg.annotation.volume.shape[:2], dtype=bool)
    (p0, q0), crop = stroke_region(np.asarray(prompt.vertices), prompt.radius, plane.shape)
    plane[p0:p0 + crop.shape[0], q0:q0 + crop.shape[1]] = crop
    return plane

def _slice_mask(z):
    return np.asarray(seg.labels)[:, :, z]

def _plane_stroke_ok(before):
    # the last stroke, on any axis: the labels changed exactly by its discs on background
    prompt = seg.prompts[-1]
    axis, index = prompt.axis, prompt.index
    after = np.take(np.asarray(seg.labels), index, axis=axis)
    old = np.take(before, index, axis=axis)
    plane = np.zeros(old.shape, dtype=bool)
    (p0, q0), crop = stroke_region(np.asarray(prompt.vertices), prompt.radius, plane.shape)
    plane[p0:p0 + crop.shape[0], q0:q0 + crop.shape[1]] = crop
    expected = np.where(plane & (old == 0), seg.active_object, old)
    return {"axis": axis, "same": bool(np.array_equal(after, expected)),
            "changed": int((after != old).sum())}
"""


def overlay_voxels(page) -> int:
    return page.evaluate(
        "() => Number(document.querySelector('[data-testid=nni-view]').dataset.overlayVoxels || 0)"
    )


def stroke(page, tool: str, path: list[tuple[float, float]], shot: str | None = None) -> dict:
    """Draw a stroke with ``tool`` through in-plane voxel positions; return the sent prompt."""
    page.click(f"[data-testid=nni-tool-{tool}]")
    before = prompts_finished(page)
    points = [to_client(page, p, q) for p, q in path]
    if shot:  # stop before the release: the stroke in progress, with the brush cursor
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=6)
        page.locator("[data-testid=nni-root]").screenshot(path=str(ARTIFACTS / shot))
        page.mouse.up()
    else:
        drag(page, points, steps=6)
    wait_prompt(page, before)
    lab.kernel_idle(page)
    return kernel_json(
        page,
        "{'tool': seg.prompts[-1].tool, 'vertices': [list(v) for v in seg.prompts[-1].vertices],"
        " 'radius': list(seg.prompts[-1].radius)}",
    )


def test_box_then_eraser_and_brush_strokes(tmp_path):
    workdir = ARTIFACTS / "edit-tools-notebook"
    workdir.mkdir(parents=True, exist_ok=True)
    lab.write_notebook(workdir / "edit_tools.ipynb", CELLS)
    with (
        lab.jupyter_server(workdir, ARTIFACTS / "edit-tools-jupyter.log") as base,
        lab.chromium(width=1400, height=1300) as page,
    ):
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        lab.open_notebook(page, base, "edit_tools.ipynb")
        lab.run_all_cells(page)
        lab.wait_for_widget(page, ARTIFACTS / "edit_tools_00_no_widget.png")
        lab.kernel_idle(page)
        lab.execute_in_kernel(page, HELPERS)
        target = kernel_json(page, f"_organ({ORGAN!r})")
        z = target["z"]
        show_slice(page, z)

        # the box
        page.click("[data-testid=nni-tool-box]")
        (p0, q0), (p1, q1) = target["box"]
        before = prompts_finished(page)
        drag(page, [to_client(page, p0, q0), to_client(page, p1, q1)], steps=8)
        wait_prompt(page, before)
        lab.kernel_idle(page)
        lab.execute_in_kernel(page, f"_box = _slice_mask({z}).copy(); _box_all = seg.labels.copy()")
        assert kernel_json(page, "int((_box > 0).sum())") > 0, "the box made no mask on its slice"

        # an eraser stroke across the mask (the leak), radius 3 voxels set in the widget
        lab.execute_in_kernel(page, "seg.brush_radius = 3.0")
        middle = (q0 + q1) / 2
        across = [(p0 - 4 + k * (p1 - p0 + 8) / 49, middle + 0.3 * (k % 2)) for k in range(50)]
        sent = stroke(page, "erase", across, shot="edit_tools_01_eraser_in_progress.png")
        assert sent["tool"] == "erase" and sent["radius"] == [3.0, 3.0]
        assert len(sent["vertices"]) >= 2
        assert abs(sent["vertices"][0][0] - across[0][0]) < 0.2
        assert abs(sent["vertices"][-1][0] - across[-1][0]) < 0.2
        erased = kernel_json(
            page, f"bool(np.array_equal(_slice_mask({z}) > 0, (_box > 0) & ~_disc({z})))"
        )
        assert erased, "the kernel's mask is not the box's minus the eraser's discs"
        assert kernel_json(page, f"int((_box > 0).sum() - (_slice_mask({z}) > 0).sum())") > 0
        page.locator("[data-testid=nni-root]").screenshot(
            path=str(ARTIFACTS / "edit_tools_02_erased.png")
        )

        # a brush stroke beside the mask
        lab.execute_in_kernel(page, f"_erased = _slice_mask({z}).copy()")
        beside = [(p1 + 2, q0), (p1 + 6, (q0 + q1) / 2), (p1 + 2, q1)]
        sent = stroke(page, "paint", beside, shot="edit_tools_03_brush_in_progress.png")
        assert sent["tool"] == "paint" and sent["radius"] == [3.0, 3.0]
        painted = kernel_json(
            page,
            f"bool(np.array_equal(_slice_mask({z}) > 0, (_erased > 0) | (_disc({z}) & "
            f"(_erased == 0))))",
        )
        assert painted, "the kernel's mask is not the erased mask plus the brush's discs"
        expected = kernel_json(page, f"int((_slice_mask({z}) > 0).sum())")
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=nni-view]').dataset.overlayVoxels"
            f" || 0) === {expected}",
            timeout=30_000,
        )
        page.locator("[data-testid=nni-root]").screenshot(
            path=str(ARTIFACTS / "edit_tools_04_painted.png")
        )
        rows = page.locator("[data-testid=nni-prompt-row]")
        assert rows.count() == 3
        assert rows.nth(1).get_attribute("data-kind") == "erase"
        assert rows.nth(2).locator(".nni-prompt-icon").count() == 1

        # two undos: the box's mask again, in the kernel and on the page
        page.locator("[data-testid=nni-root]").focus()
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")
        lab.kernel_idle(page)
        page.wait_for_function(
            f"() => {WIDGET}.querySelector('[data-testid=nni-prompt-row]') !== null"
            " && document.querySelectorAll('[data-testid=nni-prompt-row]').length === 1",
            timeout=30_000,
        )
        assert kernel_json(page, "bool(np.array_equal(seg.labels, _box_all))")
        box_voxels = kernel_json(page, "int((_box > 0).sum())")
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=nni-view]').dataset.overlayVoxels"
            f" || 0) === {box_voxels}",
            timeout=30_000,
        )
        page.locator("[data-testid=nni-root]").screenshot(
            path=str(ARTIFACTS / "edit_tools_05_undone.png")
        )
        assert overlay_voxels(page) == box_voxels

        # three views: a brush stroke in the view along y paints that plane by the same rule
        (x0, y0), (x1, y1) = target["box"]
        y = (y0 + y1) // 2
        lab.execute_in_kernel(
            page,
            f"seg.slice_index = [seg.slice_index[0], {y}, {z}]\n_before = np.asarray(seg.labels)",
        )
        page.locator("[data-testid=nni-root]").focus()
        page.keyboard.press("v")
        views = "document.querySelectorAll('[data-testid=nni-view]').length"
        page.wait_for_function(f"() => {views} === 3")
        page.click("[data-testid=nni-tool-paint]")
        before = prompts_finished(page)
        view = page.evaluate(f"() => {WIDGET}.nni.toClient(1, {x1 + 1}, {z - 6})")
        end = page.evaluate(f"() => {WIDGET}.nni.toClient(1, {x1 + 5}, {z + 6})")
        drag(page, [tuple(view), tuple(end)], steps=10)
        wait_prompt(page, before)
        lab.kernel_idle(page)
        page.locator("[data-testid=nni-root]").screenshot(
            path=str(ARTIFACTS / "edit_tools_06_three_views.png")
        )
        check = kernel_json(page, "_plane_stroke_ok(_before)")
        assert check["axis"] == 1 and check["same"] and check["changed"] > 0, check
        assert not errors, errors
