"""Every notebook in notebooks/ runs headless (nbclient) with the bundled demo model, error-free."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the [test] extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the [test] extra (nbclient)")

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def test_notebooks_found() -> None:
    names = [path.stem for path in NOTEBOOKS]
    assert names[:4] == [
        "01_getting_started",
        "02_medical_files",
        "03_reproducible_prompts",
        "04_gpu_and_jupyterhub",
    ]


def test_getting_started_is_short() -> None:
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert len(notebook.cells) <= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as on a fresh machine: no weights anywhere, the hub unreachable, so the demo model runs
    monkeypatch.delenv("NNI_JUPYTER_MODEL_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notebook = nbformat.read(path, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells), "commit without outputs"
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    # every code cell ran
    assert all(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")
