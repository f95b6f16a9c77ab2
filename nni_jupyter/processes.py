"""Whether a process still runs: what locks and leftover temporary files are judged by.

A process id alone can be reused once its process ends, so each check may also compare the
process's start time (Linux: ``/proc/<pid>/stat``; elsewhere the id alone is checked).
"""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` runs on this host (and, when ``started`` is given and the system
    says, is the same process that started then, in :func:`start_time`'s units)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except OSError:
        return False
    now = start_time(pid)
    return started is None or now is None or now == started


def start_time(pid: int) -> float | None:
    """Process ``pid``'s start time in clock ticks since boot (Linux), else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # the command name may hold spaces and parentheses: the fields follow the last ")"
    return float(text.rsplit(")", 1)[1].split()[19])


def started_before(pid: int, when: float) -> bool | None:
    """Whether process ``pid`` started before the epoch time ``when`` (None: cannot tell)."""
    ticks = start_time(pid)
    if ticks is None:
        return None
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK") <= when + 1.0  # btime is whole seconds
