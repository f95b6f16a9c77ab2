"""Replace a file atomically, so that a crash, an interrupt or a kill mid-write never leaves it
half written.

The data go to a temporary ``.<name>.<8 random characters>.tmp`` in the same folder, which is
flushed, fsynced and renamed over the target (:func:`os.replace`); the folder is fsynced too. A
read-only target is refused rather than replaced. A new file gets the usual permissions (0o666 less
the umask), a replaced one keeps its own. While written, the temporary is held by an exclusive
lock; the temporaries that killed writes to the same target left behind (named so, older than the
current write, held by no writer) are removed by the next write.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: a file open in a writer cannot be deleted there, which suffices
    fcntl = None


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Replace ``path`` with what ``write(handle)`` writes to a binary handle; return the path.

    Raises
    ------
    PermissionError
        When ``path`` is a read-only file (it is left as it was).
    OSError
        When the folder is not writable; the previous file, if any, is left as it was.
    """
    path = Path(path).expanduser()
    folder = path.parent
    mode = _mode_to_keep(path)
    _remove_abandoned_temporaries(folder, path.name, before=time.time())
    handle, temp = _create_temporary(folder, path.name, mode)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def _mode_to_keep(path: Path) -> int | None:
    """The permissions of the file ``path`` replaces (None: a new file); refuse a read-only one."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    # os.access alone says yes to root, who may write anything
    if not status.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise PermissionError(
            errno.EACCES,
            "read-only file: save does not replace it; make it writable (chmod u+w) or save "
            "under another name",
            str(path),
        )
    return stat.S_IMODE(status.st_mode)


def _create_temporary(folder: Path, name: str, mode: int | None) -> tuple[BinaryIO, Path]:
    """Create ``.<name>.<8 random characters>.tmp`` in ``folder``, held by an exclusive lock."""
    temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    # 0o666 less the umask, as for any new file (tempfile.mkstemp would give 0o600)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    handle = os.fdopen(fd, "wb")
    try:
        if mode is not None:
            os.chmod(temp, mode)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pass  # a file system without locks: the file stays safe, only unmarked
    except BaseException:
        handle.close()
        temp.unlink(missing_ok=True)
        raise
    return handle, temp


def _remove_abandoned_temporaries(folder: Path, name: str, before: float) -> None:
    """Remove temporaries of writes to ``folder/name`` that were killed: ours by name (as
    :func:`_create_temporary` or ``tempfile.mkstemp`` made them), older than ``before`` and held
    by no writer."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        entries = [entry for entry in os.scandir(folder) if pattern.fullmatch(entry.name)]
    except OSError:
        return
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime >= before:
                continue
            if fcntl is None:
                os.unlink(entry.path)  # Windows does not delete a file a writer holds open
                continue
            with open(entry.path, "rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(entry.path)
        except OSError:
            continue  # held by a live writer, already gone, or not ours to remove


def _fsync_folder(folder: Path) -> None:
    # makes the rename itself durable; not possible on every platform (Windows)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
