"""Build a Python environment that holds only the GPU machine's packages, for the CPU dry run.

A new venv (no system site-packages) gets one ``.pth`` line: a folder of links to the
distributions of an existing environment (``--from``, the project's ``.venv``: torch 2.14.1 as
``.ci/setup`` installed it, so nothing is downloaded or copied) whose names are on the GPU
machine's list (``bench/gpu_machine_packages.txt``). What the GPU script needs beyond that must
come from the wheels ``bash bench/gpu.sh prepare`` makes, as on the GPU machine.

Run: ``python bench/gpu_machine_env.py --venv DIR [--from SITE_PACKAGES]``; prints what it
linked and what on the list the source environment lacks.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

PACKAGES = Path(__file__).with_name("gpu_machine_packages.txt")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def listed_names(file: Path = PACKAGES) -> set[str]:
    lines = file.read_text(encoding="utf-8").splitlines()
    return {normalize(line) for line in lines if line.strip() and not line.startswith("#")}


def top_level_entries(dist: metadata.Distribution) -> set[str]:
    """The names a distribution puts at the top of site-packages (packages, modules, its
    ``.dist-info``), from its RECORD."""
    entries = set()
    for file in dist.files or []:
        top = file.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth"):
            entries.add(top)
    return entries


def link_listed(source: Path, links: Path, names: set[str]) -> tuple[list[str], set[str]]:
    """Link into ``links`` every top-level entry of ``source``'s distributions on ``names``;
    return the distributions linked and the listed names ``source`` lacks."""
    links.mkdir(parents=True, exist_ok=True)
    linked, found = [], set()
    for dist in metadata.distributions(path=[str(source)]):
        name = normalize(dist.metadata["Name"] or "")
        if name not in names:
            continue
        found.add(name)
        linked.append(f"{name}=={dist.version}")
        for entry in top_level_entries(dist):
            target = links / entry
            if (source / entry).exists() and not target.exists():
                target.symlink_to(source / entry)
    return sorted(linked), names - found


def make_venv(venv: Path, links: Path) -> Path:
    """A venv without system site-packages whose site-packages reads ``links``; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "gpu_machine.pth").write_text(f"{links}\n", encoding="utf-8")
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, required=True, help="the new environment")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=Path(sysconfig.get_paths()["purelib"]),
        help="site-packages to link from (default: this Python's)",
    )
    args = parser.parse_args()
    links = args.venv.with_name(args.venv.name + "-links")
    linked, missing = link_listed(args.source.resolve(), links, listed_names())
    python = make_venv(args.venv, links)
    print(f"{python}: {len(linked)} of the GPU machine's packages, linked from {args.source}")
    print(f"  ({len(missing)} listed there and absent here, none needed by the GPU script)")


if __name__ == "__main__":
    main()
