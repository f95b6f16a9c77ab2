"""Notebook 7 (the ``notebook`` package) in Debian Chromium: notebook 01 runs, its widget renders,
a click gives a mask in the kernel and changes the overlay pixels.

Run: ``pytest -m browser tests/browser/test_notebook7.py``. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil

import pytest

from . import lab
from .widget_page import GETTING_STARTED, click_organ, run_getting_started

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement("jupyter-notebook")
if _missing:
    pytest.skip(f"Notebook 7 browser test skipped: {_missing}", allow_module_level=True)

ARTIFACTS = lab.REPO / "test-artifacts"
# Notebook 7.6's own bundle throws one error on every page, with or without a widget (its shortcuts
# plugin reads the schema of a plugin it does not have); errors from anywhere else fail the test.
OWN_BUNDLE = "/static/notebook/"


def not_from_notebook7(error) -> str | None:
    """The error and its stack, or None when all its URL frames are Notebook 7's own."""
    frames = [line for line in (error.stack or "").splitlines() if "://" in line]
    if frames and all(OWN_BUNDLE in frame for frame in frames):
        return None
    return f"{error}\n{error.stack}"


def test_getting_started_in_notebook7():
    workdir = ARTIFACTS / "notebook7"
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(GETTING_STARTED, workdir / GETTING_STARTED.name)
    with (
        lab.jupyter_server(workdir, ARTIFACTS / "notebook7-jupyter.log", "notebook") as base,
        lab.chromium() as page,
    ):
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(not_from_notebook7(error)))
        lab.open_notebook(page, base, GETTING_STARTED.name, front_end="notebook")
        run_getting_started(page, ARTIFACTS / "notebook7_00_no_widget.png")
        result = click_organ(page, "kidney_left", ARTIFACTS / "notebook7_01_click.png")
        page.screenshot(path=str(ARTIFACTS / "notebook7_02_page.png"))
        assert result["objects"] == 2 and result["voxels"] > 0, f"no mask from the click: {result}"
        assert not any(errors), f"errors in the page: {errors}"
