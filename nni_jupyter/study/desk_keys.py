"""Keyboard shortcuts of the study desk: a small widget that hears Alt+<letter> on the page.

Alt combinations, so they never clash with the Segmenter's own keys (P, B, S, L, T, R, M,
Ctrl+Z ...) or with typing a note (keys typed into a text field are left alone).
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

#: Alt+<letter>: what it does (the desk's action names).
SHORTCUTS = {
    "n": "next",
    "p": "previous",
    "d": "done",
    "b": "send back",
    "a": "accept",
    "o": "reopen",
}

_ESM = """
function render({ model, el }) {
  el.style.display = "none";
  const onKey = (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    const tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || (target && target.isContentEditable)) return;
    const code = event.code || "";
    const key = code.startsWith("Key") ? code.slice(3).toLowerCase() : "";
    if (!model.get("letters").includes(key)) return;
    event.preventDefault();
    event.stopPropagation();
    model.send({ key });
  };
  document.addEventListener("keydown", onKey, true);
  return () => document.removeEventListener("keydown", onKey, true);
}
export default { render };
"""


class DeskKeys(anywidget.AnyWidget):
    """Sends ``{"key": letter}`` to the kernel for each Alt+letter of :data:`SHORTCUTS`."""

    _esm = _ESM
    letters = t.List(t.Unicode(), list(SHORTCUTS)).tag(sync=True)


def action_of(content: Any) -> str | None:
    """The desk action a message from :class:`DeskKeys` asks for (None for anything else)."""
    if isinstance(content, dict) and isinstance(content.get("key"), str):
        return SHORTCUTS.get(content["key"])
    return None


def hint(action: str) -> str:
    """``" (Alt+N)"`` for an action with a shortcut, else ``""``."""
    for letter, name in SHORTCUTS.items():
        if name == action:
            return f" (Alt+{letter.upper()})"
    return ""
