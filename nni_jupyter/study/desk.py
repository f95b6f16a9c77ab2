"""The study desk: a cohort worked through by a team, case by case, without writing code.

``study.desk()`` shows the case table (status, objects, prompts, annotator, last saved, time
spent, the reviewer's note, who has the case open) above the open case's Segmenter, with
buttons and Alt+letter keys (:mod:`.desk_keys`): next unfinished case, previous, mark done,
send back with a note, accept, reopen. Statuses are the study's (:mod:`.review`); the table is
formatted by :mod:`.desk_table`.

Several people at once: a case someone else holds for writing (:mod:`.lock`) opens read-only,
and the table says who holds it. The desk notices what others do by polling the study's
:func:`~nni_jupyter.study.review.signature` (a few ``stat`` calls per case) every ``poll_s``
seconds on a thread, and on every action. A timer rather than only actions, because an
annotator who is drawing presses no desk button, yet should see a reviewer's note or a
colleague finishing a case; files rather than a server, because the study folder is all that
two kernels on a hub share.

A reviewer's desk (``review=True``) goes through done cases, read-only, with the annotator's
masks and prompt list, and accepts them or sends them back with a note.

Faults: a damaged review file flags its row (and is moved aside, not overwritten, on the next
change); a case folder deleted while open leaves the open Segmenter as it is, with its prompts
(nothing is written anywhere else); a second desk on one study in one kernel replaces the
first, which closes its case after the last save. The desk writes only inside the study.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w  # type: ignore[import-untyped]

from . import desk_table, lock, review
from .desk_keys import DeskKeys, action_of, hint

if TYPE_CHECKING:
    from .study import Study

#: One desk per study folder in a kernel: a newer one replaces the older.
_DESKS: weakref.WeakValueDictionary[Path, StudyDesk] = weakref.WeakValueDictionary()
_DESKS_LOCK = threading.Lock()


class StudyDesk:
    """A desk for one annotator (or reviewer) on a study: table, actions, the open case.

    It displays as its :attr:`widget` (an ``ipywidgets.VBox``), so it runs wherever ipywidgets
    do: JupyterLab, Notebook 7, Voilà.

    Parameters
    ----------
    study
        The study.
    annotator
        Who works at this desk (recorded with prompts and decisions); default the user name.
    review
        A reviewer's desk: "next" goes to done cases, opened read-only.
    poll_s
        Seconds between checks for others' changes (0: only on actions).
    segmenter_kwargs
        Passed to each case's Segmenter (``model``, ``device`` ...).
    """

    def __init__(
        self,
        study: Study,
        annotator: str | None = None,
        *,
        review: bool = False,
        poll_s: float = 2.0,
        **segmenter_kwargs: Any,
    ):
        self.study = study
        self.who = annotator or lock._user()
        self.reviewing = review
        self.case: str | None = None
        self.segmenter: Any = None
        self.read_only = False
        self._kwargs = segmenter_kwargs
        self._lock = threading.RLock()
        self._rows: list[dict[str, Any]] = []
        self._seen: tuple[Any, ...] | None = None
        self._closed = threading.Event()
        self._build()
        self.widget = w.VBox(self._layout(), layout=w.Layout(width="100%"))
        self.widget.add_class("nni-desk")
        self._replace_older()
        self.refresh()
        if poll_s > 0:
            threading.Thread(
                target=_poll, args=(weakref.ref(self), poll_s, self._closed), daemon=True
            ).start()

    # ---- actions ----------------------------------------------------------------------------

    def next(self) -> str | None:
        """Open the next case to work on after the current one (wrapping around): unfinished
        and not held by anyone else, or, at a reviewer's desk, done. Returns its id (None when
        there is none left, said in the desk's message)."""
        with self._lock:
            self.refresh()
            wanted = (review.DONE,) if self.reviewing else review.UNFINISHED
            ids: list[str] = [str(row["case"]) for row in self._rows]
            start = ids.index(self.case) + 1 if self.case in ids else 0
            for case_id in ids[start:] + ids[:start]:
                row = self._row(case_id) or {}
                if row.get("status") in wanted and not self._taken_by_other(row):
                    self.open(case_id)
                    return case_id
            kind = "done case to review" if self.reviewing else "unfinished case"
            self._say(f"No {kind} left that nobody else holds.")
            return None

    def previous(self) -> str | None:
        """Open the case before the current one in the table (any status)."""
        with self._lock:
            self.refresh()
            ids: list[str] = [str(row["case"]) for row in self._rows]
            if not ids:
                return None
            at = ids.index(self.case) if self.case in ids else 0
            self.open(ids[at - 1])
            return ids[at - 1]

    def open(self, case_id: str) -> Any:
        """Open case ``case_id`` below the table and return its Segmenter.

        For writing when this is an annotator's desk, the case is unfinished and nobody else
        holds it; read-only otherwise (the message says why).
        """
        with self._lock:
            self._close_case()
            status, _ = _status(self.study, case_id)
            why = self._read_only_reason(case_id, status)
            seg = None
            if why is None:
                try:
                    seg = self.study.open(case_id, annotator=self.who, **self._kwargs)
                except lock.CaseTaken as error:
                    why = f"taken by {error.holder.describe()}"
            if seg is None:
                seg = self.study.open(case_id, read_only=True, **self._kwargs)
            self.case, self.segmenter, self.read_only = case_id, seg, why is not None
            self.viewer.children = (seg,)
            self.refresh(force=True)
            self._say(f"{case_id}: read-only, {why}." if why else f"{case_id}: open for writing.")
            return seg

    def mark_done(self) -> None:
        """Mark the open case done (its prompts saved first), and close it."""
        self._decide("done")

    def send_back(self, note: str | None = None) -> None:
        """Send the open case back to its annotator with ``note`` (default: the note field)."""
        self._decide("send back", note if note is not None else self.note.value)

    def accept(self) -> None:
        """Accept the open case (who and when are recorded)."""
        self._decide("accept")

    def reopen(self) -> None:
        """Reopen the open case for more work (for writing, at an annotator's desk)."""
        self._decide("reopen")

    def _decide(self, action: str, note: str | None = None) -> None:
        with self._lock:
            case_id = self.case
            if case_id is None:
                self._say("Open a case first (Next).")
                return
            try:
                review.check(self.study, case_id, action, note)
                if action == "done" and not self.read_only:
                    self._save_open_case()
                self._close_case()  # lets go of the lock: the decision is not "taken"
                review.change(self.study, case_id, action, self.who, note)
            except (ValueError, KeyError, OSError, lock.CaseTaken) as error:
                self.refresh(force=True)
                self._say(f"{case_id}: not {action}: {error}", error=True)
                return
            self.note.value = ""
            self.refresh(force=True)
            self._say(f"{case_id}: {action} recorded by {self.who}.")
            if action == "reopen":
                self.open(case_id)

    def _save_open_case(self) -> None:
        seg, case_id = self.segmenter, self.case
        if seg is not None and case_id is not None:
            seg.wait()
            self.study.save(case_id, seg, self.who)

    # ---- the table ----------------------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Re-read the study (statuses, who holds which case) and redraw the table, when anything
        changed since the last look (always with ``force``)."""
        with self._lock:
            seen = review.signature(self.study)
            if seen == self._seen and not force:
                return
            self._seen = seen
            holders = self.study.holders()
            rows = self.study.status_rows()
            for row in rows:
                row["taken"] = desk_table.taken_by(holders.get(row["case"]))
            self._rows = rows
            self._check_open_case()
            self.counts.value = desk_table.counts_html(rows, self.who, self._role())
            self.table.value = desk_table.table_html(rows, self.case)
            self.picker.options = [row["case"] for row in rows]
            if self.case in self.picker.options:
                self.picker.value = self.case
            self._enable_buttons()

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The table's rows as last read (one dict per case)."""
        return list(self._rows)

    def close(self) -> None:
        """Close the open case (after its last save) and the desk."""
        self._closed.set()
        with self._lock:
            self._close_case()
        self.shortcuts.close()
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- parts --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.counts = w.HTML()
        self.table = w.HTML()
        self.message = w.HTML()
        self.viewer = w.VBox(layout=w.Layout(width="100%"))
        self.picker = w.Dropdown(description="case", layout=w.Layout(width="220px"))
        self.note = w.Text(placeholder="note for the annotator", layout=w.Layout(width="280px"))
        self.buttons = {
            action: w.Button(
                description=label, tooltip=f"{label}{hint(action)}", layout=w.Layout(width="auto")
            )
            for action, label in (
                ("previous", "◀ Previous"),
                ("next", "Next ▶"),
                ("open", "Open"),
                ("done", "Mark done"),
                ("send back", "Send back"),
                ("accept", "Accept"),
                ("reopen", "Reopen"),
            )
        }
        for action, button in self.buttons.items():
            button.add_class(f"nni-desk-{action.replace(' ', '-')}")
            button.on_click(lambda _b, action=action: self._act(action))
        self.shortcuts = DeskKeys()
        self.shortcuts.on_msg(lambda _w, content, _b: self._act(action_of(content)))

    def _layout(self) -> list[Any]:
        row = w.HBox([self.buttons["previous"], self.buttons["next"], self.picker,
                      self.buttons["open"], self.buttons["done"], self.note,
                      self.buttons["send back"], self.buttons["accept"],
                      self.buttons["reopen"]],
                     layout=w.Layout(flex_flow="row wrap", align_items="center"))  # fmt: skip
        return [self.counts, self.table, row, self.message, self.shortcuts, self.viewer]

    def _act(self, action: str | None) -> None:
        button = self.buttons.get(action or "")
        if button is not None and button.disabled:  # a key for what this desk does not offer now
            self._say(f"{button.description} is not available for this case at this desk.")
            return
        try:
            if action == "open":
                if self.picker.value:
                    self.open(self.picker.value)
            elif action in ("next", "previous"):
                getattr(self, action)()
            elif action in ("done", "send back", "accept", "reopen"):
                self._decide(action, self.note.value if action == "send back" else None)
        except Exception as error:  # noqa: BLE001 - a button must say what failed, not vanish
            self._say(f"{action} failed: {type(error).__name__}: {error}", error=True)

    def _enable_buttons(self) -> None:
        row = self._row(self.case)
        status = row["status"] if row is not None else None
        taken = self._taken_by_other(row)
        allowed = {
            "done": not self.reviewing and status in review.ACTIONS["done"][0],
            "send back": status in review.ACTIONS["send back"][0],
            "accept": self.reviewing and status in review.ACTIONS["accept"][0],
            "reopen": not self.reviewing and status in review.ACTIONS["reopen"][0],
        }
        for action, enabled in allowed.items():
            self.buttons[action].disabled = not enabled or taken

    def _row(self, case_id: str | None) -> dict[str, Any] | None:
        return next((row for row in self._rows if row["case"] == case_id), None)

    @staticmethod
    def _taken_by_other(row: dict[str, Any] | None) -> bool:
        taken = (row or {}).get("taken")
        return bool(taken) and not str(taken).endswith("(this desk)")

    def _read_only_reason(self, case_id: str, status: str | None) -> str | None:
        if self.reviewing:
            return "a reviewer's desk"
        if status in (review.DONE, review.ACCEPTED):
            return f"it is {status} (Reopen to change it)"
        holder = lock.holder(self.study.case_folder(case_id))
        if holder is not None and not holder.mine() and holder.alive() is not False:
            return f"taken by {holder.describe()}"
        return None

    def _check_open_case(self) -> None:
        """Say so when the open case left the study (its folder deleted): the Segmenter stays,
        with every prompt, and nothing is written for it."""
        if self.case is None or self._row(self.case) is not None:
            return
        self._say(
            f"case {self.case} was removed from the study while open; its prompts are still in "
            f"desk.segmenter (save them with desk.segmenter.save_prompt_log(path)).",
            error=True,
        )

    def _close_case(self) -> None:
        seg, self.segmenter, self.case = self.segmenter, None, None
        self.viewer.children = ()
        if seg is not None:
            seg.wait()
            seg.close()

    def _replace_older(self) -> None:
        key = self.study.folder.resolve()
        with _DESKS_LOCK:
            older = _DESKS.get(key)
            _DESKS[key] = self
        if older is not None:
            older._say("This desk was replaced by a newer one on the same study.", error=True)
            older.close()

    def _role(self) -> str:
        return "reviewer" if self.reviewing else "annotator"

    def _say(self, text: str, error: bool = False) -> None:
        import html

        colour = "#c62828" if error else "#2e7d32"
        self.message.value = f'<span style="color:{colour}">{html.escape(text)}</span>'


def _status(study: Study, case_id: str) -> tuple[str | None, Any]:
    try:
        return review.status_of(study, case_id)
    except review.DamagedReview:
        return None, None


def _poll(desk_ref: weakref.ref[StudyDesk], every_s: float, closed: threading.Event) -> None:
    """Refresh the desk when the study changed (another annotator, a reviewer), until it closes
    or is freed."""
    while not closed.wait(every_s):
        desk = desk_ref()
        if desk is None:
            return
        try:
            desk.refresh()
        except Exception:  # noqa: BLE001 - a failed look (a folder mid-delete) tries again later
            pass
        del desk
