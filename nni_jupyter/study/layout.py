"""Where a study keeps its cases, and how a case's saved pair (labels + prompt log) is written.

The saved pair is written so that a reader sees both new files or both old ones: each save goes
into a folder of its own, ``<case>/saves/<time>-<token>/`` (``labels.nii.gz``, ``prompts.json``),
and only then does ``<case>/saved.json``, the manifest, name that folder (one atomic replace). A
save killed before the manifest leaves the previous pair in force; the next save removes what it
left. Studies written before the manifest existed hold the pair directly in the case folder;
they are read as they are, and their first new save moves the case to the manifest.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import write_json
from .names import check_case_id, inside

CASE_FILE = "case.json"
PROMPTS_FILE = "prompts.json"
LABELS_FILE = "labels.nii.gz"
#: The manifest naming the folder of the case's current saved pair.
SAVED_FILE = "saved.json"
SAVES_FOLDER = "saves"


@dataclass(frozen=True)
class SavedPair:
    """The files of one save of a case: its labels and its prompt log."""

    labels: Path
    prompts: Path


class StudyFolder:
    """A study's folder layout: cases, their images and their saved pairs (no annotation).

    ``StudyFolder(folder)`` creates the folder, or opens it when it exists. Case ids are checked
    (:func:`nni_jupyter.study.check_case_id`), and a case folder must lie inside the study.
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder).expanduser().absolute()
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"study folder {self.folder} is a file; expected a folder")
        (self.folder / "cases").mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.folder)!r}, {len(self.cases())} cases)"

    def case_folder(self, case_id: str) -> Path:
        """The folder of case ``case_id`` (checked; it need not exist)."""
        return inside(self.folder, "cases", check_case_id(case_id))

    def cases(self) -> list[str]:
        """The ids of the study's cases, sorted (a folder with a ``case.json``)."""
        root = self.folder / "cases"
        return sorted(p.name for p in root.iterdir() if (p / CASE_FILE).is_file())

    def add_case(self, case_id: str, image_path: str | os.PathLike[str]) -> None:
        """Add case ``case_id`` reading ``image_path`` (a file or DICOM folder; a relative path
        is taken from the current directory, as usual). An image inside the study folder is
        recorded relative to it, so the folder can move; any other as an absolute path.
        Re-adding the same image is a no-op.

        Raises
        ------
        FileNotFoundError
            When the image does not exist.
        ValueError
            For an unsafe case id, or one already added with another image.
        """
        folder = self.case_folder(case_id)
        path = Path(image_path).expanduser().absolute()
        if not path.exists():
            raise FileNotFoundError(f"case {case_id}: image {path} does not exist")
        if path.is_relative_to(self.folder):
            path = path.relative_to(self.folder)
        if (folder / CASE_FILE).is_file():
            known = self.image_path(case_id)
            if known.resolve() != (self.folder / path).resolve():
                raise ValueError(
                    f"case {case_id} already reads {known}; choose another id for {image_path}"
                )
            return
        folder.mkdir(exist_ok=True)
        write_json(folder / CASE_FILE, {"image": str(path)})

    def image_path(self, case_id: str) -> Path:
        """The image file (or folder) of case ``case_id``."""
        record = self._case_record(case_id)
        return self.folder / Path(record["image"])  # an absolute path stays as it is

    def _case_record(self, case_id: str) -> dict[str, Any]:
        file = self.case_folder(case_id) / CASE_FILE
        if not file.is_file():
            raise KeyError(f"study {self.folder} has no case {case_id!r}; add it with add_case")
        record = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("image"), str):
            raise ValueError(f"{file}: field image: expected a string path")
        return record

    def saved(self, case_id: str) -> SavedPair | None:
        """The case's saved pair, both files from one save, or None when nothing is saved."""
        pair = self._current_pair(case_id)
        return pair if pair.labels.is_file() and pair.prompts.is_file() else None

    def prompts_path(self, case_id: str) -> Path:
        """Where case ``case_id``'s prompt log lives (for both files of one save at once, use
        :meth:`saved`)."""
        return self._current_pair(case_id).prompts

    def labels_path(self, case_id: str) -> Path:
        """Where case ``case_id``'s saved labels live (see :meth:`saved`)."""
        return self._current_pair(case_id).labels

    def _current_pair(self, case_id: str) -> SavedPair:
        folder = self.case_folder(case_id)
        manifest = folder / SAVED_FILE
        try:
            record = json.loads(manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return SavedPair(folder / LABELS_FILE, folder / PROMPTS_FILE)  # before manifests
        except (OSError, ValueError) as error:
            raise ValueError(f"{manifest} is damaged ({error}); save the case again") from error
        name = record.get("folder") if isinstance(record, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"{manifest}: field folder: expected a string; save the case again")
        saved = inside(folder, name)
        return SavedPair(saved / LABELS_FILE, saved / PROMPTS_FILE)

    def write_pair(
        self,
        case_id: str,
        write_labels: Callable[[Path], Any],
        write_prompts: Callable[[Path], Any],
    ) -> SavedPair:
        """Save a case's pair: ``write_labels(path)`` and ``write_prompts(path)`` write the two
        files into a new save folder, then the manifest names it; return the new pair."""
        folder = self.case_folder(case_id)
        saves = folder / SAVES_FOLDER
        saves.mkdir(exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(4)}"
        previous = self._current_pair(case_id).labels.parent
        pair = SavedPair(saves / name / LABELS_FILE, saves / name / PROMPTS_FILE)
        pair.labels.parent.mkdir()
        write_labels(pair.labels)
        write_prompts(pair.prompts)
        write_json(folder / SAVED_FILE, {"folder": f"{SAVES_FOLDER}/{name}"})
        _remove_older(folder, keep={name, previous.name})
        return pair


def _remove_older(case_folder: Path, keep: set[str]) -> None:
    """Remove save folders other than ``keep`` (the current and the one before, which a reader
    that read the previous manifest may still be opening) and a pre-manifest pair."""
    for legacy in (LABELS_FILE, PROMPTS_FILE):
        (case_folder / legacy).unlink(missing_ok=True)
    for old in (case_folder / SAVES_FOLDER).iterdir():
        if old.name not in keep and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
