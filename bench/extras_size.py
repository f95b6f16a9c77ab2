"""Installed size of nni_jupyter's core and of each extra, from this environment's metadata.

For every extra, sums the files of the distributions it adds beyond the core (walking their
requirements recursively), so shared dependencies count once, with the core. Run in the venv:
``python bench/extras_size.py``.
"""

from __future__ import annotations

import re
from importlib import metadata

CORE = "core"


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(_name(requirement))
    return seen


def _size_mb(names: set[str]) -> float:
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = file.locate()
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def main() -> None:
    """Print one line per extra: added distributions and their installed size in MB."""
    requirements = metadata.distribution("nni_jupyter").requires or []
    groups: dict[str, list[str]] = {CORE: []}
    for requirement in requirements:
        match = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        groups.setdefault(match.group(1) if match else CORE, []).append(_name(requirement))
    core = _closure(groups[CORE])
    print(f"{'extra':<8} {'MB':>8}  distributions added")
    print(f"{CORE:<8} {_size_mb(core):>8.1f}  {len(core)} (torch, numpy, ...)")
    for extra, names in groups.items():
        if extra == CORE:
            continue
        added = _closure(names) - core
        missing = [n for n in names if n not in _closure([n])]
        note = f"  (not installed here: {', '.join(missing)})" if missing else ""
        print(f"{extra:<8} {_size_mb(added):>8.1f}  {len(added)}{note}")


if __name__ == "__main__":
    main()
