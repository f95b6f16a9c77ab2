"""What the study desk shows of its cases: one row per case, the counts, as HTML (no widgets).

The rows come from :meth:`Study.status_rows` and :meth:`Study.holders`; this module only
formats them, so a test can read the table without a browser.
"""

from __future__ import annotations

import datetime
import html
from collections import Counter
from typing import Any

from . import lock
from .review import STATUSES

#: The table's columns: (header, row key).
COLUMNS = (
    ("case", "case"),
    ("status", "status"),
    ("objects", "objects"),
    ("prompts", "prompts"),
    ("annotator", "annotator"),
    ("last saved", "saved_at"),
    ("time spent", "time_spent_s"),
    ("note", "note"),
    ("taken by", "taken"),
)
STATUS_COLOURS = {
    "new": "#9e9e9e",
    "in progress": "#1e88e5",
    "done": "#43a047",
    "needs review": "#e53935",
    "accepted": "#6d4c41",
}


def taken_by(holder: lock.Holder | None) -> str | None:
    """Who holds a case for writing, as the table says it (None: nobody, or a stale lock)."""
    if holder is None:
        return None
    alive = holder.alive()
    if alive is False:
        return None  # its process is gone: the next writer takes the case
    where = f" on {holder.host}" if alive is None else ""
    mine = " (this desk)" if holder.mine() else ""
    return f"{holder.who}{where}{mine}"


def counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many cases have each status (every status listed, unreadable ones as ``"?"``)."""
    found = Counter(row.get("status") or "?" for row in rows)
    out = {status: found.get(status, 0) for status in STATUSES}
    if found.get("?"):
        out["?"] = found["?"]
    return out


def counts_html(rows: list[dict[str, Any]], who: str, role: str) -> str:
    """The line above the table: the counts per status and who works at this desk."""
    parts = [
        f'<span class="nni-desk-count" data-status="{html.escape(status)}">'
        f"{html.escape(status)}: <b>{count}</b></span>"
        for status, count in counts(rows).items()
    ]
    return (
        f'<div class="nni-desk-counts">{" · ".join(parts)}'
        f" &nbsp;|&nbsp; {html.escape(role)}: <b>{html.escape(who)}</b></div>"
    )


def table_html(rows: list[dict[str, Any]], current: str | None) -> str:
    """The case table; the open case's row is marked (``data-current``)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in COLUMNS)
    body = "".join(_row_html(row, row["case"] == current) for row in rows)
    style = (
        "<style>.nni-desk-table{border-collapse:collapse;font-size:13px}"
        ".nni-desk-table td,.nni-desk-table th{padding:2px 8px;border-bottom:1px solid #ddd;"
        "text-align:left}.nni-desk-table tr[data-current=true]{background:#fff3c4}</style>"
    )
    return f'{style}<table class="nni-desk-table"><tr>{head}</tr>{body}</table>'


def _row_html(row: dict[str, Any], current: bool) -> str:
    cells = []
    for _, key in COLUMNS:
        text = html.escape(format_cell(key, row.get(key)))
        if key == "status" and row.get("status") in STATUS_COLOURS:
            colour = STATUS_COLOURS[row["status"]]
            text = f'<span style="color:{colour};font-weight:bold">{text}</span>'
        cells.append(f'<td data-column="{key}">{text}</td>')
    if row.get("problem"):
        cells[-1] += f'<td class="nni-desk-problem">{html.escape(str(row["problem"]))}</td>'
    case = html.escape(str(row["case"]))
    return f'<tr data-case="{case}" data-current="{str(current).lower()}">{"".join(cells)}</tr>'


def format_cell(key: str, value: Any) -> str:
    """One cell's text: times as ``YYYY-MM-DD HH:MM`` UTC, time spent as ``m:ss``."""
    if value is None:
        return "" if key != "status" else "?"
    if key == "saved_at" and isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if key == "time_spent_s":
        seconds = int(round(float(value)))
        return f"{seconds // 60}:{seconds % 60:02d}"
    return str(value)
