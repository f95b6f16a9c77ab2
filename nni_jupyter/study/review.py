"""Where each case of a study stands, and who said so: statuses, notes and the review.

A case is ``new`` (nothing saved), ``in progress`` (prompts saved, or reopened), ``done`` (its
annotator says so), ``needs review`` (a reviewer sent it back, with a note the annotator sees)
or ``accepted`` (a reviewer accepted it; who and when are kept). The first two follow from the
case's files; the others are decisions, kept in ``<case folder>/review.json``, written whole
(:func:`nni_jupyter.atomic.write_json`)::

    {"format": "nni_jupyter.review", "version": 1,
     "status": "needs review", "note": "the left lobe is missing", "by": "bob",
     "at": "2026-01-01T10:00:00+00:00", "accepted_by": null, "accepted_at": null,
     "history": [{"status": "done", "by": "alice", "at": "...", "note": null}, ...]}

One file per case, so annotators of different cases never write the same file; a change
re-reads the file under a lock (:func:`change`), so two people acting on one case at once see
each other's decision instead of overwriting it. A hand-edited or truncated file is reported
(:class:`DamagedReview`) and, on the next change, moved aside as
``review.damaged-<time>.json`` (nothing is lost), never overwritten.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_json
from . import lock
from .layout import SAVED_FILE, StudyFolder

NEW, IN_PROGRESS, DONE, NEEDS_REVIEW, ACCEPTED = (
    "new",
    "in progress",
    "done",
    "needs review",
    "accepted",
)
STATUSES = (NEW, IN_PROGRESS, DONE, NEEDS_REVIEW, ACCEPTED)
#: Statuses an annotator still has work in ("next unfinished case").
UNFINISHED = (NEW, IN_PROGRESS, NEEDS_REVIEW)
REVIEW_FILE = "review.json"
FORMAT = "nni_jupyter.review"
VERSION = 1
#: A pause between two prompts longer than this is a break, not time spent on the case.
IDLE_GAP_S = 300.0

#: action: (statuses it may start from, the status it leads to)
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "done": ((NEW, IN_PROGRESS, NEEDS_REVIEW), DONE),
    "send back": ((DONE, ACCEPTED), NEEDS_REVIEW),
    "accept": ((DONE,), ACCEPTED),
    "reopen": ((DONE, ACCEPTED, NEEDS_REVIEW), IN_PROGRESS),
}

try:
    import fcntl
except ImportError:  # Windows: changes are not serialised between processes there
    fcntl = None  # type: ignore[assignment]


class DamagedReview(ValueError):
    """A case's ``review.json`` cannot be read (edited by hand, cut short)."""


@dataclass
class Review:
    """A case's recorded decision (see the module docstring for the file)."""

    status: str
    note: str | None = None
    by: str | None = None
    at: str | None = None
    accepted_by: str | None = None
    accepted_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}


def path_of(case_folder: Path) -> Path:
    """Where a case's review file lives."""
    return case_folder / REVIEW_FILE


def read(case_folder: Path) -> Review | None:
    """The case's recorded decision, or None when there is none.

    Raises
    ------
    DamagedReview
        When the file is not a review file of this format (it says what is wrong).
    """
    path = path_of(case_folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DamagedReview(f"{path} cannot be read: {error}") from error
    try:
        record = json.loads(text)
    except ValueError as error:
        raise DamagedReview(f"{path} is not JSON ({error}); was it cut short?") from error
    return _checked(record, path)


def _checked(record: Any, path: Path) -> Review:
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DamagedReview(f"{path}: expected an object with format {FORMAT!r}")
    if record.get("version") != VERSION:
        raise DamagedReview(f"{path}: version {record.get('version')!r} is not {VERSION}")
    if record.get("status") not in STATUSES:
        raise DamagedReview(
            f"{path}: status {record.get('status')!r} is not one of {', '.join(STATUSES)}"
        )
    texts = ("note", "by", "at", "accepted_by", "accepted_at")
    for key in texts:
        if record.get(key) is not None and not isinstance(record[key], str):
            raise DamagedReview(f"{path}: field {key}: expected text or null")
    history = record.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise DamagedReview(f"{path}: field history: expected a list of objects")
    return Review(record["status"], **{k: record.get(k) for k in texts}, history=history)


def derived_status(study: StudyFolder, case_id: str) -> str:
    """The status of a case without a recorded decision: ``in progress`` once something is
    saved or while someone holds it for writing, else ``new``."""
    folder = study.case_folder(case_id)
    saved = (folder / SAVED_FILE).is_file() or study.saved(case_id) is not None
    return IN_PROGRESS if saved or lock.holder(folder) is not None else NEW


def status_of(study: StudyFolder, case_id: str) -> tuple[str, Review | None]:
    """The case's status and its recorded decision (None when it has none).

    Raises
    ------
    DamagedReview
        When the case's review file is damaged.
    """
    record = read(study.case_folder(case_id))
    if record is not None:
        return record.status, record
    return derived_status(study, case_id), None


def columns(study: StudyFolder, case_id: str) -> dict[str, Any]:
    """The case's ``status`` and ``note`` for a status table; a damaged review file gives
    status None and says so in ``problem``."""
    try:
        status, record = status_of(study, case_id)
    except DamagedReview as error:
        return {"status": None, "note": None, "problem": f"DamagedReview: {error}"}
    return {"status": status, "note": record.note if record else None}


def change(
    study: StudyFolder, case_id: str, action: str, who: str, note: str | None = None
) -> Review:
    """Apply ``action`` (a key of :data:`ACTIONS`) to case ``case_id`` as ``who``; return the
    new record.

    ``"send back"`` needs a ``note`` (what the annotator should fix). The status is re-read
    from disk under a lock, so a decision someone else took meanwhile is seen, not overwritten.

    Raises
    ------
    ValueError
        For an unknown action, a missing note, or a status the action cannot start from (it
        says the case's status now).
    KeyError
        When the study has no such case (a deleted case folder).
    nni_jupyter.study.lock.CaseTaken
        When another process holds the case for writing (its annotator is still at work).
    """
    check(study, case_id, action, note)
    folder = study.case_folder(case_id)
    with _locked(folder):
        record = _current(study, case_id)
        return _apply(folder, record, action, who, note)


def check(study: StudyFolder, case_id: str, action: str, note: str | None = None) -> None:
    """Raise what :func:`change` would raise, writing nothing (a desk asks before it closes
    the case's Segmenter)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if action == "send back" and not (note or "").strip():
        raise ValueError("sending a case back needs a note saying what to fix")
    study.image_path(case_id)  # KeyError for a case that is gone
    folder = study.case_folder(case_id)
    current = lock.holder(folder)
    if current is not None and not current.mine() and current.alive() is not False:
        raise lock.CaseTaken(current, f"marked {ACTIONS[action][1]!r}")
    try:
        status = status_of(study, case_id)[0]
    except DamagedReview:
        return  # change() moves the damaged file aside and starts from the files
    _check_start(folder, status, action)


def _current(study: StudyFolder, case_id: str) -> Review:
    """The case's record as it stands on disk; a damaged file is moved aside first."""
    folder = study.case_folder(case_id)
    try:
        record = read(folder)
    except DamagedReview:
        path = path_of(folder)
        os.replace(path, folder / f"review.damaged-{time.time_ns()}.json")
        record = None
    return record if record is not None else Review(derived_status(study, case_id))


def _check_start(folder: Path, status: str, action: str, record: Review | None = None) -> None:
    starts = ACTIONS[action][0]
    if status not in starts:
        by = f" (by {record.by}, {record.at})" if record is not None and record.by else ""
        raise ValueError(
            f"case {folder.name} is {status!r}{by}; {action!r} needs it "
            f"{' or '.join(repr(s) for s in starts)}"
        )


def _apply(folder: Path, record: Review, action: str, who: str, note: str | None) -> Review:
    _check_start(folder, record.status, action, record)
    status = ACTIONS[action][1]
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record.history.append({"status": status, "by": who, "at": now, "note": note})
    record.status, record.by, record.at = status, who, now
    if note is not None:
        record.note = note
    if status == ACCEPTED:
        record.accepted_by, record.accepted_at, record.note = who, now, None
    elif action == "reopen":
        record.accepted_by = record.accepted_at = None
    write_json(path_of(folder), record.to_json())
    return record


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the case's review lock (serialises changes between processes on this host and on
    file systems that share ``flock``)."""
    if fcntl is None:
        yield
        return
    with open(folder / ".review.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def time_spent(log: dict[str, Any]) -> float:
    """Seconds spent on a case, from its prompt log's times: the gaps between consecutive
    prompts and commands, each counted up to :data:`IDLE_GAP_S` (a longer pause is a break)."""
    stamps = [entry.get("stamp") or {} for entry in log.get("record", [])]
    times = [s.get("time") for s in stamps if isinstance(s, dict)]
    if not times:  # a version 1 log: the live prompts' times
        times = [p.get("time") for obj in log.get("objects", []) for p in obj.get("prompts", [])]
    parsed = (_parse(t) for t in times if isinstance(t, str))
    return _active_seconds(sorted(m for m in parsed if m is not None))


def _parse(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _active_seconds(moments: Sequence[float]) -> float:
    gaps = (later - earlier for earlier, later in zip(moments, moments[1:], strict=False))
    return float(sum(min(gap, IDLE_GAP_S) for gap in gaps))


def signature(study: StudyFolder) -> tuple[Any, ...]:
    """What changes when anyone changes the study's cases: each case's review, lock and saved
    manifest (their modification times). Comparing two signatures costs a few ``stat`` calls
    per case, so a desk can poll it every few seconds."""
    marks: list[Any] = []
    for case_id in study.cases():
        folder = study.folder / "cases" / case_id
        for name in (REVIEW_FILE, lock.LOCK_FILE, SAVED_FILE):
            try:
                marks.append(os.stat(folder / name).st_mtime_ns)
            except OSError:
                marks.append(None)
        marks.append(case_id)
    return tuple(marks)
