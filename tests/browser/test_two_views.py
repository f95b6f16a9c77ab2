"""Two outputs of one Segmenter in a real JupyterLab and Debian Chromium share one label volume:
a prompt drawn in one shows its mask in both, an undo keyed in the other clears both, and an
output that goes away lets go of the shared state while the other keeps working.

Run: ``pytest -m browser tests/browser/test_two_views.py``. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import pytest

from . import lab
from .widget_page import (
    WIDGET,
    kernel_json,
    overlay_digest,
    prompts_finished,
    to_client,
    wait_prompt,
)

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement()
if _missing:
    pytest.skip(f"browser two-views test skipped: {_missing}", allow_module_level=True)

ARTIFACTS = lab.REPO / "test-artifacts"
ORGAN = "kidney_left"

# `seg` displayed twice: two outputs (two anywidget views) of one widget model.
CELLS = [
    """\
import numpy as np
import nni_jupyter as nj
from nni_jupyter import Segmenter
from nni_jupyter.data import LABEL_VALUES, phantom

image, truth = phantom(seed=11)
seg = Segmenter(image, model="demo")
seg""",
    "seg",
]

# Per output: the first view's shown slice and how many labelled voxels its overlay drew.
OUTPUTS_JS = """() => [...document.querySelectorAll('.nni-root')].map((root) => {
  const view = root.querySelector('[data-testid=nni-view]');
  return {shown: Number(view.dataset.shownIndex), voxels: Number(view.dataset.overlayVoxels || 0)};
})"""


def outputs(page) -> list[dict]:
    return page.evaluate(OUTPUTS_JS)


def wait_outputs(page, condition: str, timeout_ms: float = 60_000) -> list[dict]:
    """Wait until every output's state satisfies ``condition`` (JS over ``o``) and return them."""
    page.wait_for_function(
        f"() => {{ const all = ({OUTPUTS_JS})();"
        f" return all.length === 2 && all.every((o) => {condition}); }}",
        timeout=timeout_ms,
    )
    return outputs(page)


def shoot(page, name: str) -> None:
    roots = page.locator("[data-testid=nni-root]")
    for k in range(roots.count()):
        roots.nth(k).screenshot(path=str(ARTIFACTS / f"two_views_{name}_{k}.png"))


def test_a_prompt_in_one_view_shows_its_mask_in_both(tmp_path):
    workdir = ARTIFACTS / "two-views-notebook"
    workdir.mkdir(parents=True, exist_ok=True)
    lab.write_notebook(workdir / "two_views.ipynb", CELLS)
    with (
        lab.jupyter_server(workdir, ARTIFACTS / "two-views-jupyter.log") as base,
        lab.chromium(width=1400, height=1900) as page,
    ):
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        lab.open_notebook(page, base, "two_views.ipynb")
        lab.run_all_cells(page)
        lab.wait_for_widget(page, ARTIFACTS / "two_views_00_no_widget.png")
        lab.kernel_idle(page)
        wait_outputs(page, "o.shown >= 0")
        # both outputs time one model: the stats are one object
        assert page.evaluate(
            "() => { const r = document.querySelectorAll('.nni-root');"
            " return r[0].nni.stats === r[1].nni.stats; }"
        )

        organ = f"truth == LABEL_VALUES[{ORGAN!r}]"
        x, y, z = kernel_json(page, f"[int(v) for v in nj.evaluation.interior_centre({organ})]")
        lab.execute_in_kernel(
            page, f"seg.slice_index = [seg.slice_index[0], seg.slice_index[1], {z}]"
        )
        wait_outputs(page, f"o.shown === {z}", 30_000)
        before = [overlay_digest(page, k) for k in (0, 1)]

        # prompt in the first output
        finished = prompts_finished(page)
        page.locator("[data-testid=nni-root]").nth(0).scroll_into_view_if_needed()
        page.locator("[data-testid=nni-root]").nth(0).locator(
            "[data-testid=nni-tool-point]"
        ).click()
        page.mouse.click(*to_client(page, x, y, output=0))
        wait_prompt(page, finished)
        lab.kernel_idle(page)
        expected = kernel_json(page, f"int((np.asarray(seg.labels)[:, :, {z}] > 0).sum())")
        assert expected > 0, "the prompt made no mask on its slice"
        drawn = wait_outputs(page, f"o.voxels === {expected}")
        shoot(page, "01_prompt")
        after = [overlay_digest(page, k) for k in (0, 1)]
        assert after[0] != before[0] and after[1] != before[1], "an overlay did not change"
        assert after[0] == after[1], f"the two outputs show different masks: {drawn}"

        # undo keyed in the second output clears both
        page.locator("[data-testid=nni-root]").nth(1).focus()
        page.keyboard.press("Control+z")
        wait_outputs(page, "o.voxels === 0")
        lab.kernel_idle(page)
        shoot(page, "02_undo")
        assert kernel_json(page, "int((np.asarray(seg.labels) > 0).sum())") == 0
        undone = [overlay_digest(page, k) for k in (0, 1)]
        assert undone[0] == undone[1] != after[0], "the outputs disagree after the undo"

        # the second output goes (its cell's output cleared): it lets go, the first still updates
        assert page.evaluate(f"() => {WIDGET}.nni.storeListeners()") == 4
        page.evaluate(
            """() => {
              const panel = window.jupyterapp.shell.currentWidget;
              panel.content.activeCellIndex = 1;
              window.jupyterapp.commands.execute('notebook:clear-cell-output');
            }"""
        )
        page.wait_for_function("() => document.querySelectorAll('.nni-root').length === 1")
        assert page.evaluate(f"() => {WIDGET}.nni.storeListeners()") == 2
        page.locator("[data-testid=nni-root]").focus()
        page.keyboard.press("Control+Shift+z")
        page.wait_for_function(
            f"() => {WIDGET}.querySelector('[data-testid=nni-view]').dataset.overlayVoxels"
            f" === '{expected}'",
            timeout=60_000,
        )
        lab.kernel_idle(page)
        assert not errors, f"errors in the page: {errors}"
