"""A study folder: cases, their prompt logs and saved labels."""

from __future__ import annotations

import datetime
import json
import os
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..atomic import write_atomic
from .names import check_case_id, inside

CASE_FILE = "case.json"
PROMPTS_FILE = "prompts.json"
LABELS_FILE = "labels.nii.gz"
STATUS_COLUMNS = ["case", "objects", "prompts", "saved_at", "annotator"]


class Study:
    """A folder of cases: each an image, its prompt log and its labels.

    ``Study(folder)`` creates the folder, or opens it when it exists. Nothing is written outside
    it: case ids are checked (:func:`nni_jupyter.study.check_case_id`).
    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder).expanduser().absolute()
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(f"study folder {self.folder} is a file; expected a folder")
        (self.folder / "cases").mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Study({str(self.folder)!r}, {len(self.cases())} cases)"

    def case_folder(self, case_id: str) -> Path:
        """The folder of case ``case_id`` (checked; it need not exist)."""
        return inside(self.folder, "cases", check_case_id(case_id))

    def cases(self) -> list[str]:
        """The ids of the study's cases, sorted."""
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
        _write_json(folder / CASE_FILE, {"image": str(path)})

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

    def prompts_path(self, case_id: str) -> Path:
        """Where case ``case_id``'s prompt log lives."""
        return self.case_folder(case_id) / PROMPTS_FILE

    def labels_path(self, case_id: str) -> Path:
        """Where case ``case_id``'s saved labels live."""
        return self.case_folder(case_id) / LABELS_FILE

    def open(
        self,
        case_id: str,
        *,
        resume: bool = True,
        autosave: bool = True,
        annotator: str | None = None,
        **segmenter_kwargs: Any,
    ) -> Any:
        """A :class:`nni_jupyter.Segmenter` on case ``case_id``'s image.

        With ``resume`` (default) a saved prompt log is replayed, so work continues where it was
        saved. With ``autosave`` (default) the Segmenter's prompt log and labels are saved into
        the case (:meth:`save`, atomically) each time its queue of prompts and commands runs
        empty, so the work survives a kernel crash. ``annotator`` becomes the Segmenter's
        :attr:`~nni_jupyter.Segmenter.annotator`, recorded with each new prompt (default
        ``$NNI_JUPYTER_ANNOTATOR``); replayed prompts keep theirs. Keyword arguments go to the
        Segmenter (``session``, ``model``, ``device`` ...).
        """
        from ..io import read_image
        from ..widget import Segmenter

        seg = Segmenter(read_image(self.image_path(case_id)), **segmenter_kwargs)
        if annotator is not None:
            seg.annotator = annotator
        if resume and self.prompts_path(case_id).is_file():
            seg.replay_prompt_log(self.prompts_path(case_id))
        if autosave:
            seg.observe(_Autosave(self, case_id, annotator), names="busy")
        return seg

    def save(self, case_id: str, seg: Any, annotator: str | None = None) -> Path:
        """Write ``seg``'s prompt log and labels into case ``case_id``; return the case folder.

        Both files are written atomically; the labels carry the log's image geometry.
        """
        from ..io import Image, write_labels

        folder = self.case_folder(case_id)
        self._case_record(case_id)
        log = seg.prompt_log(annotator)
        image = log["image"]
        labels = seg.labels
        like = Image(
            labels,
            tuple(image["spacing_mm"]),
            tuple(image["origin_mm"]),
            np.asarray(image["direction"]),
        )
        write_labels(labels, folder / LABELS_FILE, like=like)
        seg.save_prompt_log(folder / PROMPTS_FILE, annotator)
        return folder

    def status(self) -> Any:
        """A pandas DataFrame, one row per case: case, objects, prompts, saved_at (UTC),
        annotator (who gave the prompts, from the log; several joined by ", ")."""
        import pandas as pd

        from ..widget.prompt_log import read

        rows = []
        for case_id in self.cases():
            file = self.prompts_path(case_id)
            row: dict[str, Any] = dict.fromkeys(STATUS_COLUMNS)
            row.update(case=case_id, objects=0, prompts=0)
            if file.is_file():
                log = read(file)
                row["objects"] = len(log["objects"])
                row["prompts"] = sum(len(obj["prompts"]) for obj in log["objects"])
                row["saved_at"] = datetime.datetime.fromtimestamp(
                    file.stat().st_mtime, datetime.timezone.utc
                )
                who = {p["annotator"] for obj in log["objects"] for p in obj["prompts"]}
                row["annotator"] = ", ".join(sorted(w for w in who if w)) or None
            rows.append(row)
        return pd.DataFrame(rows, columns=STATUS_COLUMNS)

    def replay(
        self,
        model: Any = None,
        client: Any = None,
        device: Any = "auto",
        progress: bool = True,
        torch_threads: int | None = None,
    ) -> Any:
        """Replay every saved prompt log with ``model`` on a Dask cluster (``client=None``: an
        embedded local one); see :func:`nni_jupyter.study.replay.replay_study`."""
        from .replay import replay_study  # needs the [cluster] extra: says so when missing

        return replay_study(
            self, model, client, device=device, progress=progress, torch_threads=torch_threads
        )

    def export(self, format: str, out_folder: str | os.PathLike[str]) -> Any:
        """Write every saved case in ``format`` (``"dicom-seg"``, ``"nifti"``, ``"ome-zarr"``)
        into ``out_folder``; return a DataFrame of what was written. See
        :func:`nni_jupyter.study.export.export_study`."""
        from .export import export_study

        return export_study(self, format, out_folder)


class _Autosave:
    """Observer of a Segmenter's ``busy`` trait: saves the case when the queue runs empty.

    It runs on the Segmenter's worker thread before the next prompt starts, so the saved log
    and labels are those of one moment. A failed save warns and shows in ``seg.error``; the
    prompts themselves stand.
    """

    def __init__(self, study: Study, case_id: str, annotator: str | None):
        self.study, self.case_id, self.annotator = study, case_id, annotator

    def __call__(self, change: dict[str, Any]) -> None:
        if change["new"]:
            return
        seg = change["owner"]
        try:
            self.study.save(self.case_id, seg, self.annotator)
        except Exception as error:  # noqa: BLE001 - a failed save must not fail the prompt
            seg.error = f"autosave of case {self.case_id} failed: {type(error).__name__}: {error}"
            warnings.warn(f"nni_jupyter: {seg.error}", stacklevel=2)


def _write_json(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=1).encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(text)

    write_atomic(path, write)
