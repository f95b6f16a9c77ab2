"""Replace a file so that a reader sees either the whole old file or the whole new one.

The writer writes into a hidden staging folder next to the target (same file system, so the
rename is atomic), under the target's own name: a format that writes a second file (``.mhd`` +
``.raw``, ``.nhdr`` + ``.raw.gz``) then names it as it will be named in place. Every staged file
is fsynced and renamed over its target, the named file last; then the folder is fsynced so that
the renames survive a power cut. A writer killed mid-way leaves the old files and a hidden
``.<name>.tmp-*`` folder; a failing writer leaves only the old files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    # some platforms (Windows) cannot open or fsync a folder; the rename is still atomic there
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _denied(path: Path, why: str) -> PermissionError:
    return PermissionError(
        f"permission denied: {path} ({why}); choose a writable folder or change the permissions"
    )


def _check_writable(path: Path) -> None:
    # the rename would replace a read-only file silently; its folder's permissions are tested by
    # creating the staging folder
    if path.exists() and not os.access(path, os.W_OK):
        raise _denied(path, "the file is read-only")


def replace_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(staged_path)`` and move what it wrote over ``path`` atomically.

    Existing targets keep their permission bits; new files get the usual ones (umask).
    Raises PermissionError (``"permission denied: <path>"``) for a read-only target or folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _check_writable(path)
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    except PermissionError as error:
        raise _denied(path, f"cannot create files in {path.parent}") from error
    try:
        write(staging / path.name)
        staged = sorted(staging.iterdir(), key=lambda p: p.name == path.name)
        for file in staged:
            target = path.parent / file.name
            if target.exists():
                os.chmod(file, target.stat().st_mode & 0o7777)
            _fsync(file)
        for file in staged:
            os.replace(file, path.parent / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _fsync(path.parent)
    return path
