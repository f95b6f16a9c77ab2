"""The study desk and the Segmenter's static picture in a real JupyterLab (Debian Chromium).

Run All in a notebook whose Segmenter is displayed (its output carries a picture for static
readers), then prompted in a later cell: JupyterLab draws one live widget, never the picture,
and the desk below opens a case with "Next". Screenshot: ``test-artifacts/lab_desk.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import lab

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement()
if _missing:
    pytest.skip(f"JupyterLab desk test skipped: {_missing}", allow_module_level=True)
pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")

ARTIFACTS = lab.REPO / "test-artifacts"


def cells(study: Path) -> list[str]:
    return [
        "import nni_jupyter as nj\n"
        "image, truth = nj.data.phantom(seed=3)\n"
        "seg = nj.Segmenter(image, model='demo')\n"
        "seg",
        "seg.add_point(nj.evaluation.interior_centre(truth == nj.data.LABEL_VALUES['liver']))",
        "from nni_jupyter.study.demo import demo_study\n"
        f"study = demo_study({str(study)!r})\n"
        "desk = study.desk('alice', model='demo')\n"
        "desk",
    ]


def test_lab_keeps_the_live_widget_and_shows_the_desk(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    workdir = tmp_path / "lab"
    workdir.mkdir()
    lab.write_notebook(workdir / "desk.ipynb", cells(tmp_path / "study"))
    log = ARTIFACTS / "lab_desk.log"
    with lab.jupyter_server(workdir, log) as base, lab.chromium(1400, 1400) as page:
        lab.open_notebook(page, base, "desk.ipynb")
        lab.run_all_cells(page)
        page.wait_for_selector(".nni-desk-counts", timeout=180_000)
        lab.kernel_idle(page)
        # the first output is still the widget (its view drawn), not the picture
        first = page.locator(".jp-Cell").nth(0)
        first.scroll_into_view_if_needed()
        first.locator("[data-testid=nni-view][data-shown-index]").wait_for(timeout=60_000)
        assert first.locator(".jp-RenderedImage img").count() == 0
        assert first.locator(".nni-root").count() == 1
        page.click(".nni-desk-next")
        desk = page.locator(".nni-desk")
        desk.locator("[data-testid=nni-view][data-shown-index]").wait_for(timeout=180_000)
        assert "case_001: open for writing" in desk.inner_text()
        page.wait_for_timeout(500)
        desk.scroll_into_view_if_needed()
        desk.screenshot(path=str(ARTIFACTS / "lab_desk.png"))
