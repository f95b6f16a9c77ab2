"""Case ids name folders inside a study, so they must never lead out of it."""

from __future__ import annotations

from pathlib import Path

MAX_LENGTH = 128
#: Most file systems hold names of at most 255 bytes; a study writes ``<case id>`` plus at most
#: ``.nii.gz`` and the ``.<name>.tmp-<8 characters>`` of an atomic write around it.
MAX_NAME_BYTES = 255
MAX_BYTES = MAX_NAME_BYTES - len(".") - len(".nii.gz") - len(".tmp-12345678") - 8


def check_case_id(case_id: object) -> str:
    """Return ``case_id`` when it is safe as one folder name, else raise ``ValueError``.

    A case id is a non-empty string of at most 128 characters and :data:`MAX_BYTES` bytes in
    UTF-8 (every file a study names after it must fit a file system's 255-byte names), with no
    path separator, no ``..``, no control character, no lone surrogate (it has no UTF-8 form)
    and not starting with a dot (hidden or special names).
    """
    if not isinstance(case_id, str) or not case_id:
        raise ValueError(f"a case id must be a non-empty string; got {case_id!r}")
    problem = None
    if len(case_id) > MAX_LENGTH:
        problem = f"is longer than {MAX_LENGTH} characters"
    elif not _encodes(case_id):
        problem = "holds a lone surrogate (not text a file name can hold)"
    elif len(case_id.encode("utf-8")) > MAX_BYTES:
        size = len(case_id.encode("utf-8"))
        problem = f"takes {size} bytes in UTF-8; a study's file names allow {MAX_BYTES}"
    elif "/" in case_id or "\\" in case_id:
        problem = "contains a path separator"
    elif ".." in case_id:
        problem = "contains '..'"
    elif any(ord(c) < 32 or ord(c) == 127 for c in case_id):
        problem = "contains a control character"
    elif case_id.startswith("."):
        problem = "starts with a dot"
    if problem is not None:
        raise ValueError(
            f"case id {case_id!r} {problem}; use letters, digits, '_', '-' or '.' (not first)"
        )
    return case_id


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def inside(root: Path, *parts: str) -> Path:
    """``root / parts``, refused unless it resolves inside ``root`` (a symlink may lead out)."""
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{path} leads outside the study folder {root}")
    return path
