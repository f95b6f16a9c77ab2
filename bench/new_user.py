"""What a new user sees: a fresh clone, ``bash .ci/lab``, the first notebook run in a browser.

Run from the repository root: ``python bench/new_user.py [--out DIR]`` (needs playwright and
Debian Chromium, as the browser tests do).

1. Clones the repository's committed HEAD into an empty folder: no ``.venv``, no ``node_modules``,
   no built JavaScript, no weights.
2. Runs the README's first command there, ``bash .ci/lab``, adding only ``--no-browser`` and a
   known port and token (this machine has no screen). Every line it prints is echoed with the
   seconds since the start.
3. When JupyterLab answers, opens the notebook it was started on in headless Chromium, runs all
   cells, waits for the widget and the kernel, and prints each cell's output as the user sees it,
   with the times to first slice and to the last output. Screenshots go to ``--out``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

import lab  # noqa: E402

#: ``jupyter lab notebooks/01_getting_started.ipynb`` serves ``notebooks/`` as its root
NOTEBOOK = "01_getting_started.ipynb"


def clone(into: Path) -> Path:
    target = into / "nni_jupyter"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    head = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], cwd=target, capture_output=True, text=True
    )
    print(f"$ git clone {ROOT} {target}   # HEAD {head.stdout.strip()}", flush=True)
    return target


def start_lab(repo: Path, port: int, log_path: Path, t0: float) -> subprocess.Popen:
    """``bash .ci/lab`` with its output echoed, timestamped, to stdout and ``log_path``."""
    args = [
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.token={lab.TOKEN}",
        "--LabApp.expose_app_in_browser=True",
    ]
    print(f"$ cd {repo} && bash .ci/lab {' '.join(args)}", flush=True)
    process = subprocess.Popen(
        ["bash", ".ci/lab", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def echo() -> None:
        with log_path.open("w") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                print(f"[{time.perf_counter() - t0:6.1f} s] {line.rstrip()}", flush=True)

    threading.Thread(target=echo, daemon=True).start()
    return process


def use_notebook(base: str, out: Path, t0: float) -> None:
    """Open the notebook, run all cells, report what shows."""
    with lab.chromium() as page:
        lab.open_notebook(page, base, NOTEBOOK, timeout_ms=120_000)
        print(f"[{time.perf_counter() - t0:6.1f} s] notebook open, kernel idle", flush=True)
        page.screenshot(path=str(out / "new_user_1_opened.png"))
        started = time.perf_counter()
        lab.run_all_cells(page)
        lab.wait_for_widget(page, out / "new_user_no_widget.png", timeout_ms=300_000)
        first_slice = time.perf_counter() - started
        lab.kernel_idle(page, timeout_ms=300_000)
        all_done = time.perf_counter() - started
        page.wait_for_timeout(1500)  # the last mask update reaches the canvas
        page.screenshot(path=str(out / "new_user_2_ran.png"), full_page=True)
        cells = page.locator(".jp-Cell").all()
        print(
            f"\nRun all: widget slice after {first_slice:.1f} s, kernel idle after {all_done:.1f} s"
        )
        for k, cell in enumerate(cells):
            source = cell.locator(".jp-InputArea-editor").inner_text().strip()
            outputs = cell.locator(".jp-OutputArea-output").all_inner_texts()
            errors = cell.locator("[data-mime-type='application/vnd.jupyter.stderr']").count()
            print(f"\n--- cell {k}{'  (stderr output)' if errors else ''}")
            print("\n".join("    " + line for line in source.splitlines()[:6]))
            for text in outputs:
                shown = text.strip()[:600] or "(a widget or image, see the screenshot)"
                print("  => " + shown.replace("\n", "\n     "))
        print(f"\nScreenshots: {out}/new_user_1_opened.png, {out}/new_user_2_ran.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts")
    parser.add_argument("--setup-timeout", type=float, default=1800)
    args = parser.parse_args()
    missing = lab.missing_requirement()
    if missing:
        raise SystemExit(f"cannot drive the browser: {missing}")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nni-new-user-") as tmp:
        t0 = time.perf_counter()
        repo = clone(Path(tmp))
        port = lab.free_port()
        base = f"http://127.0.0.1:{port}"
        process = start_lab(repo, port, args.out / "new_user_lab.log", t0)
        try:
            lab.wait_until_serving(process, base, args.setup_timeout, "bash .ci/lab")
            print(f"[{time.perf_counter() - t0:6.1f} s] JupyterLab answers at {base}", flush=True)
            use_notebook(base, args.out, t0)
        finally:
            lab.stop(process)
        print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
