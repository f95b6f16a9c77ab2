"""How much memory this process may use: the user's budget, else what the system has free.

Shared by the Segmenter's estimate (``nni_jupyter.annotation.memory``) and file reading
(``nni_jupyter.io``), which must not import the widget.
"""

from __future__ import annotations

import os
import re

BUDGET_ENV = "NNI_JUPYTER_MEMORY_BUDGET"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_bytes(text: str | int | float) -> int:
    """``"8G"``, ``"512M"``, ``"1.5g"``, ``"1000000"`` -> bytes (binary units)."""
    if isinstance(text, (int, float)):
        return int(text)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if match is None:
        raise ValueError(f"a memory size must look like 8G, 512M or 1000000; got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_bytes() -> int | None:
    """Memory available to this process now (psutil or /proc/meminfo), None when unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_limit(budget: str | int | float | None = None) -> tuple[int | None, str]:
    """The bytes one may allocate and where that figure comes from, for error messages.

    ``budget`` defaults to ``$NNI_JUPYTER_MEMORY_BUDGET``, else the memory available now
    (``None`` when unknown).
    """
    budget = budget if budget is not None else os.environ.get(BUDGET_ENV)
    if budget is not None:
        return parse_bytes(budget), "the memory budget"
    return available_bytes(), "the memory available now"


def gib(value: int) -> str:
    """``value`` bytes as ``"1.5 GiB"``."""
    return f"{value / (1 << 30):.1f} GiB"
