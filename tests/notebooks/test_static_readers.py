"""Readers without a kernel see each Segmenter: notebook 01, executed headless and converted to
HTML by nbconvert, holds a PNG of the view where the widget was, and a ``seg.snapshot()`` cell
added after its prompt shows the prompted mask.

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
from nni_jupyter.widget.snapshot import LEGEND_WIDTH

nbformat = pytest.importorskip("nbformat", reason="needs the [test] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the [test] extra (nbclient)")
nbconvert = pytest.importorskip("nbconvert", reason="needs the [test] extra (nbconvert)")

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def test_notebook_01_shows_its_masks_in_html(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(REPO / "notebooks" / "01_getting_started.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("seg.snapshot()"))
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute()
    html, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2, "expected the widget's picture and the snapshot's"
    ARTIFACTS.mkdir(exist_ok=True)
    pictures = []
    for name, data in zip(("widget", "snapshot"), images, strict=True):
        (ARTIFACTS / f"notebook01_static_{name}.png").write_bytes(base64.b64decode(data))
        pictures.append(decode_png(base64.b64decode(data)))
    widget, snapshot = (p[:, :-LEGEND_WIDTH] for p in pictures)  # the slice, not the legend
    # the widget's picture: the phantom's slice (many grey levels), no mask yet
    assert len(np.unique(widget[..., 0])) > 50
    assert np.all(widget == object_color(1), axis=2).sum() == 0
    # the snapshot after the prompt: object 1's outline, in its colour
    liver = np.all(snapshot == object_color(1), axis=2).sum()
    assert liver > 50, f"object 1's colour covers {liver} pixels of the snapshot"
