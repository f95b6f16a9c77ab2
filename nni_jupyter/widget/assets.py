"""The widget's front-end assets: the built bundle and its stylesheet, as text."""

from __future__ import annotations

from pathlib import Path

_STATIC = Path(__file__).resolve().parent.parent / "static"
#: Shown instead of a blank cell when the package was installed without its JavaScript bundle.
UNBUILT_ESM = """export default { render({ el }) {
  el.textContent = "nni_jupyter: the widget's JavaScript bundle is missing "
    + "(nni_jupyter/static/widget.js). Install a released wheel, or run `npm run build` "
    + "in the source tree.";
} };"""


def static_asset(name: str, fallback: str) -> str:
    """The text of ``nni_jupyter/static/<name>`` when it was built, else ``fallback``.

    Text, not a path: anywidget watches a path for changes and connects every widget instance to
    the watcher, which keeps closed Segmenters alive for as long as the class exists.
    """
    path = _STATIC / name
    return path.read_text(encoding="utf-8") if path.is_file() else fallback
