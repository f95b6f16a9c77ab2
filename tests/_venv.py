"""A new virtual environment that sees the test environment's packages (torch, numpy, anywidget,
...) through a path entry, so nothing large is installed again, but not its ``.pth`` files (so not
an editable nni_jupyter): whatever nni_jupyter it imports was installed into it.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def venv_with_test_packages(env_dir: Path, with_pip: bool = True) -> tuple[Path, Path]:
    """Create the environment at ``env_dir``; returns its python and its site-packages folder.

    ``with_pip=False`` is quicker; install into it with ``python -m pip --python <its python>``.
    """
    command = [sys.executable, "-m", "venv", str(env_dir)]
    subprocess.run(command if with_pip else [*command, "--without-pip"], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (site / "test_env_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site
