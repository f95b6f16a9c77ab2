"""Drive real Jupyter front ends (JupyterLab 4, Notebook 7) in headless Debian Chromium (shared by
the browser tests and bench/widget_*).

No browser download: Playwright only launches ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
TOKEN = "T"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


# Console scripts a front end needs next to this Python, and the package that installs each.
SCRIPTS = {
    "jupyter": "jupyterlab ipywidgets",
    "jupyter-notebook": "notebook",
    "jupyterhub": "jupyterhub",
    "jupyterhub-singleuser": "jupyterhub",
}


@dataclass(frozen=True)
class FrontEnd:
    """How to start a Jupyter front end and where it opens a notebook."""

    subcommand: str  # jupyter <subcommand>
    app_class: str  # the app whose ``expose_app_in_browser`` puts ``window.jupyterapp`` up
    tree: str  # URL path before a notebook's path
    script: str  # console script it needs (a key of SCRIPTS)


FRONT_ENDS = {
    "lab": FrontEnd("lab", "LabApp", "lab/tree", "jupyter"),
    "notebook": FrontEnd("notebook", "JupyterNotebookApp", "notebooks", "jupyter-notebook"),
}


def missing_requirement(*scripts: str) -> str | None:
    """Why the browser tests cannot run here (also checking ``scripts``), or None when they can."""
    if not CHROMIUM.exists():
        return f"Debian Chromium not found at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python playwright is not installed (pip install playwright; no browser download)"
    for script in ("jupyter", *scripts):
        if shutil.which(script, path=str(Path(sys.executable).parent)) is None:
            return f"{script} is not installed next to this Python (pip install {SCRIPTS[script]})"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells with kernelspec metadata (no kernel-choice dialog)."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell{k}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for k, source in enumerate(cells)
        ],
        "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))
    return path


def server_env(workdir: Path) -> dict[str, str]:
    """Environment for a Jupyter server whose kernels import this checkout's nni_jupyter.

    Fresh settings and workspaces under ``workdir`` (no news pop-up, no restored layout).
    """
    settings = workdir / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": pythonpath,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"),
    }


@contextlib.contextmanager
def jupyter_server(
    root_dir: Path, log_path: Path, front_end: str = "lab", timeout_s: float = 90
) -> Iterator[str]:
    """Run a front end of FRONT_ENDS on a free port serving ``root_dir``; yields the base URL."""
    app = FRONT_ENDS[front_end]
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {**os.environ, **server_env(log_path.parent)}
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            str(jupyter),
            app.subcommand,
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--{app.app_class}.expose_app_in_browser=True",
            f"--ServerApp.root_dir={root_dir}",
            "--ServerApp.disable_check_xsrf=True",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=root_dir,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base, timeout_s, f"jupyter {app.subcommand} (see {log_path})")
        yield base
    finally:
        stop(process)
        log.close()


def wait_until_serving(
    process: subprocess.Popen,
    base: str,
    timeout_s: float,
    what: str,
    path: str = f"/api/status?token={TOKEN}",
) -> None:
    """Wait until ``base + path`` answers; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{base}{path}", timeout=2):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not answer in {timeout_s:.0f} s") from error
            time.sleep(0.3)


def stop(process: subprocess.Popen, timeout_s: float = 15) -> None:
    """Terminate a server process, killing it when it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()


@contextlib.contextmanager
def chromium(
    width: int = 1400, height: int = 1000, extra_args: list[str] | None = None
) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium (``extra_args``: more Chromium flags)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + (extra_args or [])
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def open_notebook(
    page: Any,
    base: str,
    name: str,
    timeout_ms: float = 60_000,
    front_end: str = "lab",
    token: str | None = TOKEN,
) -> None:
    """Open a notebook in a front end of FRONT_ENDS and wait until its kernel is idle and ready.

    ``token=None`` for a server that authenticates by cookie (a JupyterHub user's server).
    """
    query = f"?token={token}" if token else ""
    page.goto(f"{base}/{FRONT_ENDS[front_end].tree}/{name}{query}", timeout=timeout_ms)
    page.wait_for_function(
        """() => {
          const app = window.jupyterapp;
          const panel = app && app.shell.currentWidget;
          const kernel = panel && panel.sessionContext && panel.sessionContext.session
            && panel.sessionContext.session.kernel;
          return kernel && kernel.status === 'idle'
            && panel.content && panel.content.widgets.length > 0;
        }""",
        timeout=timeout_ms,
    )


def run_all_cells(page: Any) -> None:
    """Run every cell (not awaited: widgets keep the promise pending)."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def run_cell(page: Any, index: int) -> None:
    """Run one cell by index (not awaited)."""
    page.evaluate(
        """(index) => {
          const panel = window.jupyterapp.shell.currentWidget;
          panel.content.activeCellIndex = index;
          window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        index,
    )


def kernel_idle(page: Any, timeout_ms: float = 120_000) -> None:
    """Wait until the notebook's kernel is idle again."""
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'",
        timeout=timeout_ms,
    )


def wait_for_file(path: Path, timeout_s: float = 120) -> Any:
    """Wait for a JSON file a cell writes, and return its content."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not appear within {timeout_s} s")


def execute_in_kernel(page: Any, code: str, timeout_ms: float = 120_000) -> str:
    """Run code in the notebook's kernel (not as a cell) and return its stdout.

    Uses the page's own kernel connection, so it sees the notebook's variables.
    """
    return page.evaluate(
        """async ([code, timeout]) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const future = kernel.requestExecute({ code, store_history: false });
          let out = '';
          let err = '';
          future.onIOPub = (msg) => {
            const t = msg.header.msg_type;
            if (t === 'stream') out += msg.content.text;
            if (t === 'error') err += msg.content.ename + ': ' + msg.content.evalue;
          };
          const timer = new Promise(
            (_, reject) => setTimeout(() => reject(new Error('timeout')), timeout));
          await Promise.race([future.done, timer]);
          if (err) throw new Error(err);
          return out;
        }""",
        [code, timeout_ms],
    )


def wait_for_widget(page: Any, screenshot: Path, timeout_ms: float = 180_000) -> None:
    """Wait until a Segmenter shows its first slice; on failure, say what the notebook printed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector("[data-testid=nni-view][data-shown-index]", timeout=timeout_ms)
    except PlaywrightTimeout as error:
        page.screenshot(path=str(screenshot))
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        raise AssertionError(
            f"no widget slice after {timeout_ms / 1000:.0f} s (screenshot {screenshot}); "
            f"cell outputs: {outputs[-3:]}"
        ) from error
