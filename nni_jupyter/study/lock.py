"""Who writes which case: a lock file per case, taken when a case is opened for writing.

``<case folder>/lock.json`` names its holder: who, since when (UTC), on which host, which process
(its id and start time, so a reused id is not mistaken for the holder). It is created whole or not
at all (written aside, then linked into place, which fails when the file exists), so two processes
that open one case at once cannot both take it.

A lock is stale once its process is gone, which is checked on the holder's own host only: a lock
taken on another host is reported as held (nobody here can tell whether that process lives) until
:func:`release` removes it by hand. One process may take its own lock again (a re-run notebook
cell): the new holder replaces the old one, whose writer then sees that it no longer holds it
(:func:`check_writer`) and stops saving instead of overwriting the newer work.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import processes
from ..atomic import write_json

#: The lock's file name inside a case folder.
LOCK_FILE = "lock.json"


@dataclass(frozen=True)
class Holder:
    """The holder of a case lock.

    Attributes
    ----------
    case
        The case id.
    who
        The annotator (or the user name when none was given).
    since
        When the lock was taken, ISO 8601 in UTC.
    host, pid, started
        The holder's host name, process id and the process's start time (None where the system
        does not say).
    token
        Unique per taking: tells one opening of a case from a later one in the same process.
    """

    case: str
    who: str
    since: str
    host: str
    pid: int
    started: float | None
    token: str

    def alive(self) -> bool | None:
        """Whether the holding process still runs: True or False on its own host, None on
        another host (it cannot be told from here)."""
        if self.host != socket.gethostname():
            return None
        return processes.alive(self.pid, self.started)

    def mine(self) -> bool:
        """Whether this process holds the lock."""
        if (self.host, self.pid) != (socket.gethostname(), os.getpid()):
            return False
        now = processes.start_time(self.pid)  # the same id before a reboot is another process
        return self.started is None or now is None or self.started == now

    def describe(self) -> str:
        """``"alice (process 123 on host h, since 2026-01-01T10:00:00+00:00)"``."""
        return f"{self.who} (process {self.pid} on host {self.host}, since {self.since})"


class CaseTaken(RuntimeError):
    """A case is open for writing elsewhere; ``holder`` says by whom."""

    def __init__(self, holder: Holder, what: str = "opened"):
        self.holder = holder
        where = "" if holder.alive() is not None else " on another host, so it cannot be checked"
        super().__init__(
            f"case {holder.case} is open for writing by {holder.describe()}{where}; it was not "
            f"{what}, so neither annotator loses work. Open it read-only with "
            f"study.open({holder.case!r}, read_only=True), or, once that process is gone for "
            f"sure, free it with study.release({holder.case!r})"
        )


def take(case_folder: Path, case: str, who: str | None = None) -> Holder:
    """Take the lock of the case in ``case_folder`` for this process; return the holder.

    A stale lock (its process gone, on this host) or this process's own is replaced.

    Raises
    ------
    CaseTaken
        When another live process (or one on another host) holds it.
    """
    me = Holder(
        case=case,
        who=who or _user(),
        since=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        host=socket.gethostname(),
        pid=os.getpid(),
        started=processes.start_time(os.getpid()),
        token=secrets.token_hex(8),
    )
    path = case_folder / LOCK_FILE
    for _ in range(5):
        if _create(path, me):
            return me
        current = holder(case_folder)
        if current is None:
            continue  # removed meanwhile
        if current.mine():
            write_json(path, asdict(me))
            return me
        if current.alive() is not False:
            raise CaseTaken(current)
        _remove_stale(path, current)
    raise CaseTaken(holder(case_folder) or me)


def holder(case_folder: Path) -> Holder | None:
    """The holder of the case's lock, or None when nobody holds it.

    An unreadable lock file (damaged by hand) counts as held by an unknown process on an unknown
    host, so it is never taken silently: :func:`release` removes it.
    """
    path = case_folder / LOCK_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Holder(**record)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        unknown = "(unreadable lock file)"
        return Holder(case_folder.name, unknown, unknown, unknown, -1, None, "")


def release(case_folder: Path, token: str | None = None) -> Holder | None:
    """Remove the case's lock and return whom it named (None when there was none).

    With ``token``, only that taking's lock is removed (a later one is left alone).
    """
    current = holder(case_folder)
    if current is None or (token is not None and current.token != token):
        return None
    with contextlib.suppress(FileNotFoundError):
        (case_folder / LOCK_FILE).unlink()
    return current


def check_writer(case_folder: Path, token: str | None, what: str = "saved") -> None:
    """Raise :class:`CaseTaken` unless a write to the case may go ahead: the lock is ``token``'s,
    or (``token`` None, a save by hand) nobody else's live one."""
    current = holder(case_folder)
    if current is None or current.token == token:
        return
    if token is None and (current.mine() or current.alive() is False):
        return
    raise CaseTaken(current, what)


def _create(path: Path, me: Holder) -> bool:
    """Create the lock file whole, or return False when it exists."""
    aside = path.with_name(f".{path.name}.{me.token}")
    text = json.dumps(asdict(me), indent=1)
    aside.write_text(text, encoding="utf-8")
    try:
        os.link(aside, path)  # fails when the lock exists: one taker wins
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: create exclusively instead
        return _create_exclusive(path, text)
    finally:
        aside.unlink(missing_ok=True)


def _create_exclusive(path: Path, text: str) -> bool:
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        return False
    return True


def _remove_stale(path: Path, stale: Holder) -> None:
    """Remove ``stale``'s lock, leaving a lock that another process took meanwhile in place."""
    aside = path.with_name(f".{path.name}.stale-{secrets.token_hex(4)}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    try:
        moved = json.loads(aside.read_text(encoding="utf-8")).get("token")
    except (OSError, ValueError, AttributeError):
        moved = None
    if moved != stale.token:  # a fresh lock: put it back
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def describe_all(holders: dict[str, Holder]) -> list[dict[str, Any]]:
    """One row per held case: case, who, since, host, pid, alive (True, False, None: unknown)."""
    return [
        {**{k: v for k, v in asdict(h).items() if k != "token"}, "alive": h.alive()}
        for h in holders.values()
    ]
