"""How long Segmenters live: one Segmenter per session, and none left behind by a re-run cell.

- A session holds one image, its prompts and its target buffer. Two Segmenters on one session
  would run each other's prompts on the wrong image, so a second one is refused while the first
  is open; networks are shared per model and device anyway (``inference.shared``), so a second
  Segmenter with ``model=`` costs no second copy of the weights.
- Users re-run cells all the time. ipywidgets keeps every widget until it is closed, so
  ``seg = nj.Segmenter(image)`` run ten times used to keep ten Segmenters, their worker threads and
  sessions. A Segmenter made by a cell therefore closes the Segmenters made by the earlier runs of
  that same cell (JupyterLab and Notebook 7 name the cell in each execute request; elsewhere the
  cell's code stands in for its name). Closing keeps their masks readable; it stops the worker
  and releases the session.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import Any

_LOCK = threading.RLock()  # weakref callbacks may run while it is held
#: id(session) -> the Segmenter using it (weakly, so a dropped Segmenter frees its session).
_OWNERS: dict[int, weakref.ReferenceType[Any]] = {}
#: cell key -> (execution count, the Segmenters that run made)
_BY_CELL: dict[str, tuple[int, list[weakref.ReferenceType[Any]]]] = {}


class SessionInUseError(ValueError):
    """The session already serves another open Segmenter."""


def claim_session(session: Any, segmenter: Any) -> None:
    """Record that ``segmenter`` uses ``session``; refuse a session another open one uses."""
    with _LOCK:
        current = _OWNERS.get(id(session))
        other = current() if current is not None else None
        if other is not None and other is not segmenter and not getattr(other, "_closed", True):
            raise SessionInUseError(
                "this session already serves another Segmenter that is still open; a session "
                "holds one image and its prompts, so sharing it would mix their masks. Give the "
                "new Segmenter model=... instead of session=... (the loaded network is shared per "
                "model and device, so no second copy of the weights is made), or close the other "
                "Segmenter first (seg.close())."
            )
        key = id(session)
        _OWNERS[key] = weakref.ref(segmenter, lambda _ref: _drop(key))


def release_session(session: Any, segmenter: Any) -> None:
    """Forget that ``segmenter`` uses ``session`` (it was closed)."""
    with _LOCK:
        current = _OWNERS.get(id(session))
        if current is not None and current() is segmenter:
            del _OWNERS[id(session)]


def _drop(key: int) -> None:
    with _LOCK:
        current = _OWNERS.get(key)
        if current is not None and current() is None:
            del _OWNERS[key]


def current_cell() -> tuple[str, int] | None:
    """``(cell key, execution count)`` of the notebook cell running now, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if shell is None or kernel is None or not hasattr(kernel, "get_parent"):
        return None
    parent = kernel.get_parent() or {}
    cell_id = (parent.get("metadata") or {}).get("cellId")
    if not cell_id:
        code = (parent.get("content") or {}).get("code")
        if not code:
            return None
        cell_id = "code:" + hashlib.sha256(code.encode()).hexdigest()
    return str(cell_id), int(getattr(shell, "execution_count", 0) or 0)


def supersede(segmenter: Any) -> list[Any]:
    """Register ``segmenter`` with the running cell; return the Segmenters made by earlier runs
    of that cell, which the caller closes (a cell making several in one run keeps them all)."""
    cell = current_cell()
    if cell is None:
        return []
    key, count = cell
    with _LOCK:
        previous_count, refs = _BY_CELL.get(key, (count, []))
        earlier = [] if previous_count == count else [r() for r in refs]
        if previous_count != count:
            refs = []
        refs.append(weakref.ref(segmenter))
        _BY_CELL[key] = (count, refs)
    return [seg for seg in earlier if seg is not None and not getattr(seg, "_closed", True)]
