"""The wheel is what users get: built from this checkout, installed into a new virtual environment
with no Node.js on PATH, it runs notebook 01 with the bundled demo model and front end.

The new environment sees the test environment's packages (torch, numpy, anywidget, nbclient, ...)
through a path entry, so nothing large is installed again; nni_jupyter itself comes only from the
wheel (the checkout's editable install is not visible there, which the test checks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _venv import venv_with_test_packages

pytest.importorskip("nbclient", reason="needs the [test] extra (nbclient)")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_getting_started.ipynb"
BUNDLE = "nni_jupyter/static/widget.js"
DEMO_CHECKPOINT = "nni_jupyter/demo/model/fold_0/checkpoint_final.pth"

RUN_NOTEBOOK = """
import sys, nbformat, nbclient, nni_jupyter
print("nni_jupyter from", nni_jupyter.__file__)
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3").execute()
outputs = [o for c in notebook.cells for o in c.get("outputs", [])]
errors = [o for o in outputs if o.get("output_type") == "error"]
assert not errors, errors
print("cells run:", sum(1 for c in notebook.cells if c.get("execution_count")))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / BUNDLE).is_file():
        pytest.fail(f"{BUNDLE} is missing: build the front end first (npm run build)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("nni_jupyter-*.whl")
    return built


def test_wheel_carries_the_front_end_and_the_demo_model(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {BUNDLE, DEMO_CHECKPOINT, "nni_jupyter/demo/model/plans.json"} <= names
    assert not any(name.startswith(("tests/", "js/", "node_modules/")) for name in names)


def test_wheel_runs_the_getting_started_notebook_without_node(wheel: Path, tmp_path: Path) -> None:
    python, site = venv_with_test_packages(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    path = str(python.parent)
    assert shutil.which("node", path=path) is None and shutil.which("npm", path=path) is None
    env = {
        "PATH": path,
        "HOME": str(tmp_path / "home"),
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(tmp_path / "empty-hub-cache"),
        "PYTHONNOUSERSITE": "1",
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith(("LANG", "LC_", "TMP"))})
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    result = subprocess.run(
        [str(python), "-c", RUN_NOTEBOOK, NOTEBOOK.name],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"nni_jupyter from {site}" in result.stdout, result.stdout
    assert "cells run:" in result.stdout
