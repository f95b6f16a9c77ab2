"""The Segmenter widget on a page, whatever front end serves it: read its overlay, click on it,
wait for prompts, and run notebook 01's first click (shared by the browser tests).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from . import lab

WIDGET = "document.querySelector('.nni-root')"
GETTING_STARTED = lab.REPO / "notebooks" / "01_getting_started.ipynb"


def kernel_json(page: Any, expression: str) -> Any:
    """Evaluate ``expression`` in the notebook's kernel and return it through JSON."""
    code = f"import json as _json\nprint(_json.dumps({expression}))"
    return json.loads(lab.execute_in_kernel(page, code))


def overlay_digest(page: Any, output: int = 0) -> str:
    """A hash of the overlay canvas pixels of the first view of widget ``output`` (page order)."""
    data = page.evaluate(
        """(output) => {
          const root = document.querySelectorAll('.nni-root')[output];
          const canvas = root.querySelector('[data-testid=nni-overlay-canvas]');
          const context = canvas.getContext('2d');
          const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
          let sum = 0;
          let weighted = 0;
          for (let k = 0; k < pixels.length; k++) {
            sum += pixels[k];
            weighted = (weighted * 31 + pixels[k]) % 1000000007;
          }
          return `${sum}:${weighted}`;
        }""",
        output,
    )
    return hashlib.sha1(data.encode()).hexdigest()


def to_client(page: Any, p: float, q: float, output: int = 0) -> tuple[float, float]:
    """Page coordinates of voxel ``(p, q)`` in the first view of widget ``output`` (page order)."""
    x, y = page.evaluate(
        "([p, q, output]) => document.querySelectorAll('.nni-root')[output].nni.toClient(0, p, q)",
        [p, q, output],
    )
    return x, y


def prompts_finished(page: Any) -> int:
    """How many prompts the widget has drawn (or seen fail)."""
    return page.evaluate(
        f"() => {WIDGET}.nni.stats.prompts.filter(p => p.drawn_ms || p.error).length"
    )


def wait_prompt(page: Any, before: int, timeout_ms: float = 120_000) -> dict:
    """Wait for the next prompt's overlay to be drawn (or its error) and return its stats."""
    page.wait_for_function(
        f"""() => {WIDGET}.nni.stats.prompts
              .filter(p => p.drawn_ms || p.error).length > {before}""",
        timeout=timeout_ms,
    )
    stats = page.evaluate(f"() => {WIDGET}.nni.stats.prompts.slice(-1)[0]")
    assert "error" not in stats, f"the kernel rejected the prompt: {stats['error']}"
    return stats


def show_slice(page: Any, z: int) -> None:
    """Show axial slice ``z`` in the first view (set from the kernel) and wait until it is drawn."""
    lab.execute_in_kernel(page, f"seg.slice_index = [seg.slice_index[0], seg.slice_index[1], {z}]")
    page.wait_for_selector(f"[data-testid=nni-view][data-shown-index='{z}']", timeout=30_000)
    page.wait_for_timeout(200)


def new_object(page: Any) -> None:
    """Start the next object with the widget's button."""
    count = page.locator("[data-testid=nni-object]").count()
    page.click("[data-testid=nni-new-object]")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=nni-object]').length > {count}",
        timeout=30_000,
    )


def drag(page: Any, points: list[tuple[float, float]], steps: int = 4) -> None:
    """Press at the first point, move through the others, release."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=steps)
    page.mouse.up()


def run_getting_started(page: Any, screenshot: Path) -> None:
    """Run every cell of notebook 01 (already open) and wait for its widget and kernel."""
    lab.run_all_cells(page)
    lab.wait_for_widget(page, screenshot)
    lab.kernel_idle(page)


def click_organ(page: Any, organ: str, screenshot: Path) -> dict:
    """In notebook 01's ``seg``: a new object, then a point click inside ``organ`` (a label name).

    Asserts that the overlay pixels changed; returns the kernel's ``voxels`` in the new mask.
    """
    new_object(page)
    organ_mask = f"truth == nj.data.LABEL_VALUES[{organ!r}]"
    x, y, z = kernel_json(page, f"[int(v) for v in nj.evaluation.interior_centre({organ_mask})]")
    show_slice(page, z)
    before_pixels = overlay_digest(page)
    before = prompts_finished(page)
    page.click("[data-testid=nni-tool-point]")
    page.mouse.click(*to_client(page, x, y))
    wait_prompt(page, before)
    page.locator("[data-testid=nni-root]").screenshot(path=str(screenshot))
    assert overlay_digest(page) != before_pixels, "the overlay canvas did not change"
    return kernel_json(page, "{'voxels': int(seg.mask.sum()), 'objects': len(seg.objects)}")
