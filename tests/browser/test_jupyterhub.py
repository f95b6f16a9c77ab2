"""A real JupyterHub on 127.0.0.1 in Debian Chromium: log in, run notebook 01 under the hub's
``/user/<name>/`` prefix (the widget's assets and messages go through the proxy), click for a mask,
save, stop and start the user's server through the hub API, and restore the same labels.

Run: ``pytest -m browser tests/browser/test_jupyterhub.py``. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil

import pytest

from . import hub, lab
from .widget_page import GETTING_STARTED, click_organ, kernel_json, run_getting_started

pytestmark = pytest.mark.browser

_missing = hub.missing_requirement()
if _missing:
    pytest.skip(f"JupyterHub browser test skipped: {_missing}", allow_module_level=True)

ARTIFACTS = lab.REPO / "test-artifacts"
SAVED = "work.npz"
SAVE = f"""\
import numpy as _np
seg.save({SAVED!r})
_np.save("labels_before.npy", seg.labels)
"""
RESTORE = """{
    "equal": bool(_np.array_equal(_restored.labels, _np.load("labels_before.npy"))),
    "labelled": int((_restored.labels > 0).sum()),
}"""


def test_getting_started_on_jupyterhub_survives_a_server_restart(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        hub.jupyterhub(tmp_path, ARTIFACTS / "jupyterhub.log") as running,
        lab.chromium() as page,
    ):
        shutil.copy(GETTING_STARTED, running.home() / GETTING_STARTED.name)
        user_url = f"{running.url}/user/{hub.USER}"
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        hub.log_in(page, running)
        lab.open_notebook(page, user_url, GETTING_STARTED.name, 120_000, token=None)
        run_getting_started(page, ARTIFACTS / "hub_00_no_widget.png")
        result = click_organ(page, "kidney_left", ARTIFACTS / "hub_01_click.png")
        page.screenshot(path=str(ARTIFACTS / "hub_02_page.png"))
        assert result["objects"] == 2 and result["voxels"] > 0, f"no mask from the click: {result}"
        lab.execute_in_kernel(page, SAVE)
        assert (running.home() / SAVED).is_file(), f"seg.save did not write {SAVED} in the home"

        running.api("DELETE", f"users/{hub.USER}/server")
        running.wait_server(running=False)
        running.api("POST", f"users/{hub.USER}/server")
        running.wait_server(running=True)

        lab.open_notebook(page, user_url, GETTING_STARTED.name, 120_000, token=None)
        lab.execute_in_kernel(
            page,
            "import numpy as _np, nni_jupyter as nj\n"
            "_image, _ = nj.data.phantom(seed=3)\n"
            f"_restored = nj.Segmenter.load({SAVED!r}, _image)",
        )
        restored = kernel_json(page, RESTORE)
        assert restored["equal"] and restored["labelled"] > 0, f"labels after restart: {restored}"
        assert not errors, f"errors in the page: {errors}"
