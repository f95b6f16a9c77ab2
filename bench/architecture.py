"""The shape of the code, in figures anyone can reproduce: lines per layer, import circles,
function-level imports of the package's own modules, and the longest functions (Python and TS).

    python bench/architecture.py

Layers are those of the import-linter contract in ``pyproject.toml`` (``lint-imports`` checks them
in CI); circles are found by grimp, import-linter's graph library.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import grimp
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nni_jupyter"


def layers() -> list[list[str]]:
    """The layers of the first import-linter ``layers`` contract, highest first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    return [re.split(r"\s*[|:]\s*", layer.strip()) for layer in contract["layers"]]


def lines_of(module: str) -> int:
    path = PACKAGE.parent / Path(*module.split("."))
    files = list(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return sum(len(f.read_text().splitlines()) for f in files if f.is_file())


def circles(graph: grimp.ImportGraph, modules: list[str]) -> list[list[str]]:
    """Groups of modules that import each other, directly or not (Tarjan's strongly connected
    components of the module graph, function-level imports included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def function_level_imports() -> list[str]:
    """``file:line`` of each import of an nni_jupyter module inside a function."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                own = (isinstance(node, ast.ImportFrom) and (node.level or "nni_jupyter" in
                       (node.module or ""))) or (isinstance(node, ast.Import) and any(
                       a.name.startswith("nni_jupyter") for a in node.names))  # fmt: skip
                if own:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return sorted(set(found))


def longest_python(count: int = 5) -> list[tuple[int, str]]:
    sizes = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                sizes.append((length, f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(sizes, reverse=True)[:count]


def longest_typescript(count: int = 5) -> list[tuple[int, str]]:
    """Longest TS functions by brace matching from each ``function`` or arrow at line start."""
    sizes = []
    start = re.compile(
        r"^\s*(export\s+)?(async\s+)?function\s+(\w+)|^\s*(const|let)\s+(\w+)\s*=.*=>\s*\{\s*$"
    )
    for path in (ROOT / "js").glob("*.ts"):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            match = start.match(line)
            if not match:
                continue
            depth, seen = 0, False
            for j in range(i, len(lines)):
                depth += lines[j].count("{") - lines[j].count("}")
                seen = seen or "{" in lines[j]
                if seen and depth <= 0:
                    name = match.group(3) or match.group(5)
                    sizes.append((j - i + 1, f"{path.relative_to(ROOT)}:{name}"))
                    break
    return sorted(sizes, reverse=True)[:count]


def main() -> int:
    graph = grimp.build_graph("nni_jupyter", exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    cycles = circles(graph, modules)
    print("lines per layer (highest first):")
    for layer in layers():
        print(f"  {sum(lines_of(m) for m in layer):6d}  {' | '.join(layer)}")
    print(f"modules: {len(modules)}; import circles: {len(cycles)}")
    for circle in cycles:
        print(f"  {' -> '.join(circle)}")
    imports = function_level_imports()
    print(f"function-level imports of nni_jupyter modules: {len(imports)}")
    for where in imports:
        print(f"  {where}")
    print("longest Python functions (lines):")
    for length, name in longest_python():
        print(f"  {length:4d}  {name}")
    print("longest TypeScript functions (lines):")
    for length, name in longest_typescript():
        print(f"  {length:4d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
