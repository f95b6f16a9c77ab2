"""Readers without a kernel see each Segmenter: notebook 01, executed headless and converted to
HTML by nbconvert, holds a PNG of the view where the widget was, with the prompted mask in it.

Executed without storing the widget state, as JupyterLab saves notebooks by default: where the
state is stored (nbclient's default), nbconvert prefers the widget itself to the picture.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from _png import decode_png

from nni_jupyter.palette import object_color

nbformat = pytest.importorskip("nbformat", reason="needs the [test] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the [test] extra (nbclient)")
nbconvert = pytest.importorskip("nbconvert", reason="needs the [test] extra (nbconvert)")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def test_notebook_01_shows_its_masks_in_html(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(REPO / "notebooks" / "01_getting_started.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute()
    html, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)
    assert images, "the HTML shows no image where the Segmenter was"
    picture = decode_png(base64.b64decode(images[0]))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook01_static_view.png").write_bytes(base64.b64decode(images[0]))
    # the liver was prompted after the widget's cell: its picture was brought up to date,
    # so object 1's outline colour is in it
    liver = np.all(picture == object_color(1), axis=2).sum()
    assert liver > 50, f"object 1's colour covers {liver} pixels of the picture"
    # and the image itself: many grey levels, not a blank
    assert len(np.unique(picture[..., 0])) > 50
