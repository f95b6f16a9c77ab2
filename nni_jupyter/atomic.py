"""Replace files atomically: a reader, a crash or a kill mid-write sees the whole old file or the
whole new one, never half of either.

Two writers, one set of rules:

- :func:`write_atomic` for writers that take a binary handle (numpy's ``savez``): the data go to a
  temporary ``.<name>.<8 random characters>.tmp`` in the same folder, held by an exclusive lock
  while written; temporaries that killed writes to the same target left behind (named so, older
  than the current write, held by no writer) are removed by the next write.
- :func:`replace_atomically` for writers that take a path (SimpleITK): they write into a hidden
  staging folder ``.<name>.tmp-*`` under the target's own name, so a format that writes a second
  file (``.mhd`` + ``.raw``) names it as it will be named in place; every staged file is renamed
  over its target, the named file last.

Either way the data are fsynced before the rename and the folder after it. A read-only target is
refused (``PermissionError``, "permission denied: <path>") rather than replaced; a new file gets
the usual permissions (0o666 less the umask), a replaced one keeps its own.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from . import processes

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # Windows: a file open in a writer cannot be deleted there, which suffices
    fcntl = None


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
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
    _fsync(folder)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(staged_path)`` and move what it wrote over ``path`` atomically.

    A header with a separate data file (``.mhd`` + ``.raw``, ``.nhdr`` + ``.raw.gz``) is one
    image in two files: the data file gets a name of its own (``<name>.<8 hex>.<ending>``),
    written into the header, and goes in place first; the header replaces the old one last, in
    one rename. So a kill at any moment leaves the old header on its old data or the new header
    on its new data; the old data file is removed after, with any a killed write left. Staging
    folders that killed writers left (their process gone) are removed first.

    Raises
    ------
    PermissionError
        ``"permission denied: <path>"`` for a read-only target or folder (left as they were).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = _mode_to_keep(path)
    except PermissionError as error:
        raise _denied(path, "the file is read-only") from error
    _remove_dead_staging(path)
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-{_writer()}-"))
    except PermissionError as error:
        raise _denied(path, f"cannot create files in {path.parent}") from error
    try:
        write(staging / path.name)
        previous = _data_files(path) if _detached(path) else []
        if _detached(path):
            _name_data_files_uniquely(staging / path.name)
        staged = sorted(staging.iterdir(), key=lambda p: p.name == path.name)
        for file in staged:
            target = path.parent / file.name
            keep = mode if file.name == path.name else _existing_mode(target)
            if keep is not None:
                os.chmod(file, keep)
            _fsync(file)
        for file in staged:
            os.replace(file, path.parent / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _fsync_folder(path.parent)
    if _detached(path):
        _remove_unnamed_data(path, previous)
    return path


#: Header lines that name a detached data file: MetaImage's and NRRD's.
_DATA_FILE_LINE = re.compile(
    rb"^(ElementDataFile[ \t]*=[ \t]*|data ?file[ \t]*:[ \t]*)(\S+)[ \t\r]*$", re.M | re.I
)


def _detached(path: Path) -> bool:
    return path.name.lower().endswith((".mhd", ".nhdr"))


def _data_files(header: Path) -> list[Path]:
    """The data files beside ``header`` that it names and that are named after it (never a
    file of another name, which might be shared)."""
    try:
        text = header.read_bytes()[: 1 << 16]
    except OSError:
        return []
    stem = header.name.rsplit(".", 1)[0]
    names = [m.group(2).decode("latin-1") for m in _DATA_FILE_LINE.finditer(text)]
    return [
        header.parent / name
        for name in names
        if "/" not in name and "\\" not in name and name.startswith(stem + ".")
    ]


def _remove_unnamed_data(header: Path, previous: list[Path]) -> None:
    """Remove the data files the replaced header named, and (when no other write of ``header``
    is under way) those a killed write put in place before its header."""
    current = set(_data_files(header))
    orphans = list(previous)
    if not any(header.parent.glob(f".{glob.escape(header.name)}.tmp-*")):
        stem = re.escape(header.name.rsplit(".", 1)[0])
        ours = re.compile(rf"{stem}\.[0-9a-f]{{8}}\..+")
        orphans += [f for f in header.parent.iterdir() if ours.fullmatch(f.name)]
    for old in orphans:
        if old not in current and not old.is_symlink():
            old.unlink(missing_ok=True)


def _name_data_files_uniquely(header: Path) -> None:
    """Rename the staged data files the staged ``header`` names to ``<name>.<8 hex>.<ending>``
    and write their new names into it."""
    text = header.read_bytes()
    stem = header.name.rsplit(".", 1)[0]
    token = secrets.token_hex(4)

    def rename(match: re.Match[bytes]) -> bytes:
        name = match.group(2).decode("latin-1")
        data = header.parent / name
        if not name.startswith(stem + ".") or not data.is_file():
            return match.group(0)
        unique = f"{stem}.{token}.{name[len(stem) + 1 :]}"
        os.replace(data, header.parent / unique)
        return match.group(1) + unique.encode("latin-1")

    header.write_bytes(_DATA_FILE_LINE.sub(rename, text))


def _writer() -> str:
    """This process, as staging folders name their writer: ``<pid>@<8 hex of the host>``."""
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    return f"{os.getpid()}@{host}"


def _remove_dead_staging(path: Path) -> None:
    """Remove staging folders of writes to ``path`` whose writer (on this host) is gone, or is
    a newer process that reuses its id."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp-(\d+)@([0-9a-f]{{8}})-\w+")
    host = _writer().split("@")[1]
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        match = pattern.fullmatch(leftover.name)
        if match is None or match.group(2) != host or leftover.is_symlink():
            continue
        pid = int(match.group(1))
        try:
            made = leftover.stat().st_mtime
        except OSError:
            continue
        if processes.alive(pid) and processes.started_before(pid, made) is not False:
            continue  # its writer may still be writing
        shutil.rmtree(leftover, ignore_errors=True)


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def _denied(path: Path, why: str) -> PermissionError:
    return PermissionError(
        f"permission denied: {path} ({why}); choose a writable folder or change the permissions"
    )


def remove_staging_leftovers(path: str | os.PathLike[str]) -> None:
    """Remove the staging folders of :func:`replace_atomically` writes to ``path`` that a killed
    process left behind. Call it only when no other writer of ``path`` can be running (e.g. at
    the start of the one task that owns ``path``)."""
    path = Path(path)
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Write ``value`` as indented UTF-8 JSON to ``path`` with :func:`write_atomic`; return it."""
    text = json.dumps(value, indent=1).encode("utf-8")

    def write(handle: BinaryIO) -> None:
        handle.write(text)

    return write_atomic(path, write)
