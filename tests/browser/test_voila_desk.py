"""Notebook 06 as an app: a real Voilà server and Debian Chromium. The desk loads with no code
shown, "Next" opens a case, a click makes a mask, "Mark done" persists after a reload.

Screenshots go to ``test-artifacts/voila_desk_*.png``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from . import lab
from .widget_page import prompts_finished, to_client, wait_prompt

pytestmark = pytest.mark.browser

_missing = lab.missing_requirement()
if _missing:
    pytest.skip(f"Voilà desk test skipped: {_missing}", allow_module_level=True)
pytest.importorskip("voila", reason="needs voila (the [test] extra)")
pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")

ARTIFACTS = lab.REPO / "test-artifacts"
NOTEBOOK = "notebooks/06_study_desk.ipynb"
DEMO_SHAPE, FIRST_SEED = (64, 64, 48), 41


@contextlib.contextmanager
def voila(
    study: Path, log_path: Path, who: str = "alice", review: bool = False, timeout_s: float = 90
) -> Iterator[str]:
    """``voila notebooks/06_study_desk.ipynb`` on a free port: ``who``'s desk on ``study``."""
    port = lab.free_port()
    env = {**os.environ, **lab.server_env(log_path.parent)}
    env.update(NNI_JUPYTER_DESK_STUDY=str(study), NNI_JUPYTER_ANNOTATOR=who,
               NNI_JUPYTER_DESK_REVIEW="1" if review else "0",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="2")  # fmt: skip
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "voila", NOTEBOOK, "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=lab.REPO,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_serving(process, base, timeout_s, log_path)
        yield base
    finally:
        lab.stop(process)
        log.close()


def _wait_serving(process: subprocess.Popen, base: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None:
        try:
            urllib.request.urlopen(f"{base}/voila/static/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"voila did not answer in {timeout_s:.0f} s (see {log})"
                ) from error
            time.sleep(0.3)
    raise RuntimeError(f"voila exited with {process.returncode} (see {log})")


def organ_click(slice_index: int) -> tuple[int, int]:
    """An in-plane voxel deep inside the largest organ of case_001's slice ``slice_index``."""
    from scipy import ndimage

    from nni_jupyter.data import LABEL_VALUES, phantom

    _, labels = phantom(DEMO_SHAPE, seed=FIRST_SEED)
    plane = labels[:, :, slice_index]
    organ = max(("liver", "spleen", "kidney_left"), key=lambda o: (plane == LABEL_VALUES[o]).sum())
    depth = ndimage.distance_transform_edt(plane == LABEL_VALUES[organ])
    x, y = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return int(x), int(y)


def status_cell(page, case_id: str) -> str:
    return page.inner_text(f'tr[data-case="{case_id}"] td[data-column="status"]')


def test_voila_desk_next_click_done_reload(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    study = tmp_path / "study"
    with voila(study, ARTIFACTS / "voila_desk.log") as base, lab.chromium() as page:
        page.goto(base + "/", timeout=180_000)
        page.wait_for_selector(".nni-desk-counts", timeout=180_000)
        text = page.inner_text("body")
        assert "study.desk(" not in text and "import os" not in text, "code is shown"
        assert "new: 3" in page.inner_text(".nni-desk-counts")
        page.screenshot(path=str(ARTIFACTS / "voila_desk_1_loaded.png"))

        page.click(".nni-desk-next")
        page.wait_for_selector(".nni-desk [data-testid=nni-view][data-shown-index]",
                               state="visible", timeout=180_000)  # fmt: skip
        assert status_cell(page, "case_001") == "in progress"
        index = int(page.get_attribute("[data-testid=nni-view]", "data-shown-index"))
        before = prompts_finished(page)
        page.mouse.click(*to_client(page, *organ_click(index)))
        wait_prompt(page, before)
        page.wait_for_function(  # the autosave, seen by the desk's poll
            """() => document.querySelector('tr[data-case="case_001"] td[data-column="prompts"]')
                       .innerText === '1'""",
            timeout=30_000,
        )
        page.screenshot(path=str(ARTIFACTS / "voila_desk_2_mask.png"))

        page.click(".nni-desk-done")
        page.wait_for_function(
            """() => document.querySelector('tr[data-case="case_001"] td[data-column="status"]')
                       .innerText === 'done'""",
            timeout=60_000,
        )
        page.reload(timeout=180_000)  # a new kernel: what it shows comes from the study folder
        page.wait_for_selector(".nni-desk-counts", timeout=180_000)
        assert status_cell(page, "case_001") == "done"
        assert "done: 1" in page.inner_text(".nni-desk-counts")
        page.screenshot(path=str(ARTIFACTS / "voila_desk_3_after_reload.png"))
        page.keyboard.press("Alt+n")  # the key for "Next": case_001 is done, so case_002
        page.wait_for_selector("text=case_002: open for writing", timeout=120_000)
        assert status_cell(page, "case_002") == "in progress"

    import nni_jupyter as nj

    row = nj.Study(study).status().set_index("case").loc["case_001"]
    assert (row["status"], row["prompts"], row["annotator"]) == ("done", 1, "alice")
    assert row["objects"] == 1

    # a reviewer's desk: the done case read-only with alice's mask, sent back with a note
    with voila(study, ARTIFACTS / "voila_review.log", "bob", True) as base, lab.chromium() as page:
        page.goto(base + "/", timeout=180_000)
        page.wait_for_selector(".nni-desk-counts", timeout=180_000)
        assert "reviewer: bob" in page.inner_text(".nni-desk-counts")
        page.click(".nni-desk-next")
        page.wait_for_selector("text=case_001: read-only, a reviewer's desk", timeout=180_000)
        page.wait_for_selector(".nni-desk [data-testid=nni-view][data-overlay-voxels]",
                               timeout=60_000)  # fmt: skip
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=nni-view]')"
            ".dataset.overlayVoxels || 0) > 0",
            timeout=60_000,
        )  # alice's mask is drawn
        page.fill(".nni-desk input[placeholder='note for the annotator']", "add the lower pole")
        page.click(".nni-desk-send-back")
        page.wait_for_function(
            """() => document.querySelector('tr[data-case="case_001"] td[data-column="note"]')
                       .innerText === 'add the lower pole'""",
            timeout=60_000,
        )
        assert status_cell(page, "case_001") == "needs review"
        page.screenshot(path=str(ARTIFACTS / "voila_desk_4_review.png"))
    row = nj.Study(study).status().set_index("case").loc["case_001"]
    assert (row["status"], row["note"]) == ("needs review", "add the lower pole")
