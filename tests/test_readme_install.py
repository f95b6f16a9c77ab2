"""The README's Installing commands work as written: read from the README (so they cannot drift),
run in a copy of this checkout, each ``pip install`` into a new virtual environment, then the
installed nni_jupyter imports with its front end.

Only nni_jupyter is installed (``--no-deps``; the environments see the test environment's packages)
and torch is taken as installed, so the test stays quick.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _venv import venv_with_test_packages

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = "nni_jupyter/static/widget.js"
IMPORT_CHECK = """
import pathlib, nni_jupyter
package = pathlib.Path(nni_jupyter.__file__).parent
assert (package / "static" / "widget.js").is_file(), f"no front end in {package}"
print(package)
"""


def readme_pip_commands() -> list[list[str]]:
    """The ``pip`` commands of the README's Installing section, but the one installing torch."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Installing", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's Installing section has no ```bash block"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    commands = [c for c in commands if c[:1] == ["pip"] and "torch" not in c]
    assert commands, "README's Installing block has no pip command for nni_jupyter"
    return commands


def clone_of_checkout(target: Path) -> Path:
    """The checkout's tracked files and its built front end, as a user's clone would have them."""
    files = subprocess.check_output(["git", "ls-files"], cwd=ROOT, text=True).splitlines()
    for name in [*files, BUNDLE, "nni_jupyter/static/widget.css"]:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def installed_package(python: Path, cwd: Path, env: dict[str, str]) -> str:
    """Where ``python`` imports nni_jupyter from (asserting that its front end is there)."""
    result = subprocess.run(
        [str(python), "-c", IMPORT_CHECK],
        cwd=cwd,
        env=env,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_readme_install_commands_work_from_a_clone(tmp_path: Path) -> None:
    if not (ROOT / BUNDLE).is_file():
        pytest.fail(f"{BUNDLE} is missing: build the front end first (npm run build)")
    clone = clone_of_checkout(tmp_path / "clone")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONNOUSERSITE": "1"}
    environments = 0
    for command in readme_pip_commands():
        pip = [sys.executable, "-m", "pip"]
        installs = command[1] == "install"
        if installs:
            environments += 1
            python, site = venv_with_test_packages(tmp_path / f"venv{environments}", False)
            pip += ["--python", str(python)]
            # nni_jupyter only, even though the test environment's (editable) one is visible;
            # from the local wheel when the command names a folder of wheels
            local = ["--no-index"] if "--find-links" in command else []
            command = [*command, "--no-deps", "--ignore-installed", *local]
        result = subprocess.run(
            pip + command[1:],
            cwd=clone,
            env=env,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=600,
        )
        assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}{result.stderr}"
        if installs:
            assert installed_package(python, tmp_path, env).startswith(str(site)), command
    assert environments >= 1, "README's Installing block installs nni_jupyter nowhere"
