"""A study folder: cases, their prompt logs and saved labels, and who is writing which case."""

from __future__ import annotations

import datetime
import functools
import os
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..annotation import log as prompt_log
from ..annotation.persistence import image_fingerprint
from ..image import Image
from ..io import read_image, write_labels
from . import lock, review
from .export import export_study
from .layout import CASE_FILE, LABELS_FILE, PROMPTS_FILE, StudyFolder

__all__ = ["CASE_FILE", "LABELS_FILE", "PROMPTS_FILE", "STATUS_COLUMNS", "Study"]

STATUS_COLUMNS = [
    "case", "status", "objects", "prompts", "saved_at", "annotator", "time_spent_s", "note",
    "problem",
]  # fmt: skip


class Study(StudyFolder):
    """A folder of cases: each an image, its prompt log and its labels.

    ``Study(folder)`` creates the folder, or opens it when it exists. Nothing is written outside
    it: case ids are checked (:func:`nni_jupyter.study.check_case_id`). A case opened for writing
    is taken (:mod:`nni_jupyter.study.lock`): a second writer gets
    :class:`~nni_jupyter.study.lock.CaseTaken` and may open it read-only.
    """

    def open(
        self,
        case_id: str,
        *,
        resume: bool = True,
        autosave: bool = True,
        annotator: str | None = None,
        read_only: bool = False,
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

        Opening for writing takes the case (:mod:`nni_jupyter.study.lock`) until the Segmenter
        is closed or freed, this process ends, or :meth:`release`; ``read_only=True`` takes nothing,
        never saves (no autosave; :meth:`save` refuses it) and works while another holds it.

        Raises
        ------
        nni_jupyter.study.lock.CaseTaken
            When another process holds the case (it says who, where and since when).
        """
        from ..widget import Segmenter

        image_path = self.image_path(case_id)
        holder = None if read_only else lock.take(self.case_folder(case_id), case_id, annotator)
        try:
            seg = Segmenter(read_image(image_path), **segmenter_kwargs)
            if annotator is not None:
                seg.annotator = annotator
            saved = self.saved(case_id)
            if resume and saved is not None:
                seg.replay_prompt_log(saved.prompts)
        except BaseException:
            if holder is not None:
                lock.release(self.case_folder(case_id), holder.token)
            raise
        if holder is None:
            _READ_ONLY.add(seg)
            return seg
        _TOKENS[seg] = holder.token
        release = functools.partial(lock.release, self.case_folder(case_id), holder.token)
        weakref.finalize(seg, release)  # a Segmenter freed without close()
        seg.observe(lambda change: change["new"] is None and release(), names="comm")  # close()
        if autosave:
            seg.observe(_Autosave(self, case_id, annotator), names="busy")
        return seg

    def save(self, case_id: str, seg: Any, annotator: str | None = None) -> Path:
        """Write the prompt log and labels of ``seg`` (a Segmenter or a headless
        :class:`~nni_jupyter.annotation.Annotation`) into case ``case_id``; return the case
        folder.

        The two files are one save: a reader (or a kill mid-save) sees both new files or both
        old ones (:mod:`nni_jupyter.study.layout`). The labels carry the log's image geometry.

        Raises
        ------
        nni_jupyter.study.lock.CaseTaken
            When another writer holds the case, or ``seg`` was opened read-only.
        """
        folder = self.case_folder(case_id)
        self._case_record(case_id)
        if seg in _READ_ONLY:
            raise PermissionError(
                f"this Segmenter was opened read-only (study.open({case_id!r}, read_only=True)); "
                f"open the case for writing to save, once its holder has closed it"
            )
        lock.check_writer(folder, _TOKENS.get(seg))
        work = getattr(seg, "annotation", seg)  # a Segmenter shows an Annotation
        log = work.log(annotator)
        image = log["image"]
        labels = work.labels
        like = Image(
            labels,
            tuple(image["spacing_mm"]),
            tuple(image["origin_mm"]),
            np.asarray(image["direction"]),
        )
        self.write_pair(
            case_id,
            lambda path: write_labels(labels, path, like=like),
            lambda path: prompt_log.save(path, log),
        )
        return folder

    def release(self, case_id: str) -> lock.Holder | None:
        """Free case ``case_id`` for writing, whoever holds it; return whom the lock named.

        For a holder that is gone (a crashed kernel on another host, whose lock cannot be
        checked from here). A Segmenter that held it stops autosaving.
        """
        return lock.release(self.case_folder(case_id))

    def holders(self) -> dict[str, lock.Holder]:
        """Who holds which case for writing: ``{case: Holder}`` (stale locks included; see
        :meth:`~nni_jupyter.study.lock.Holder.alive`)."""
        found = {}
        for case_id in self.cases():
            try:
                holder = lock.holder(self.case_folder(case_id))
            except ValueError:
                continue  # a case folder leading outside the study holds nothing of ours
            if holder is not None:
                found[case_id] = holder
        return found

    def status(self) -> Any:
        """A pandas DataFrame, one row per case: case, status (``new``, ``in progress``,
        ``done``, ``needs review``, ``accepted``: :mod:`nni_jupyter.study.review`), objects,
        prompts, saved_at (UTC), annotator (who gave the prompts, from the log; several joined
        by ", "), time_spent_s (from the prompts' times), note (a reviewer's), problem (None,
        or why the case could not be read: a damaged log or review file, a folder leading
        outside the study; the other rows are still reported)."""
        import pandas as pd

        return pd.DataFrame(self.status_rows(), columns=STATUS_COLUMNS)

    def status_rows(self) -> list[dict[str, Any]]:
        """:meth:`status` as a list of dicts (no pandas needed)."""
        rows = []
        for case_id in self.cases():
            row: dict[str, Any] = dict.fromkeys(STATUS_COLUMNS)
            row.update(case=case_id, objects=0, prompts=0, time_spent_s=0.0)
            try:
                row.update(review.columns(self, case_id))
                row.update(self._status_of(case_id))
            except Exception as error:  # noqa: BLE001 - one bad case flags its row
                row["problem"] = f"{type(error).__name__}: {error}"
            rows.append(row)
        return rows

    def desk(self, annotator: str | None = None, *, review: bool = False, **kwargs: Any) -> Any:
        """A desk to work through the study's cases (:class:`~nni_jupyter.study.desk.StudyDesk`):
        the case table, next / previous / done / send back / accept / reopen, and the open case's
        Segmenter below. ``review=True`` for a reviewer (cases open read-only). ``kwargs`` go to
        each case's Segmenter."""
        from .desk import StudyDesk  # a widget: imported here, so headless workers never load it

        return StudyDesk(self, annotator, review=review, **kwargs)

    def _status_of(self, case_id: str) -> dict[str, Any]:
        saved = self.saved(case_id)
        if saved is None:
            return {}
        log = prompt_log.read(saved.prompts)
        who = {p["annotator"] for obj in log["objects"] for p in obj["prompts"]}
        return {
            "problem": self._image_changed(case_id, log, saved.prompts.stat().st_mtime),
            "objects": len(log["objects"]),
            "prompts": sum(len(obj["prompts"]) for obj in log["objects"]),
            "saved_at": datetime.datetime.fromtimestamp(
                saved.prompts.stat().st_mtime, datetime.timezone.utc
            ),
            "annotator": ", ".join(sorted(w for w in who if w)) or None,
            "time_spent_s": review.time_spent(log),
        }

    def _image_changed(self, case_id: str, log: dict[str, Any], saved_at: float) -> str | None:
        """Why the case's image no longer fits its saved log (None: it does). Only an image
        file written after the log is read and fingerprinted, so a status stays cheap."""
        path = self.image_path(case_id)
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        if max(f.stat().st_mtime for f in files) <= saved_at:
            return None
        found = image_fingerprint(read_image(path).array)
        if found == log["image"]["fingerprint"]:
            return None
        return (
            f"its image {path} changed after the prompt log was saved (fingerprint "
            f"{found[:12]}..., the log's {log['image']['fingerprint'][:12]}...): the prompts "
            "were drawn on another image, so opening or replaying the case refuses it"
        )

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

    def export(
        self, format: str, out_folder: str | os.PathLike[str], overwrite: bool = False
    ) -> Any:
        """Write every saved case in ``format`` (``"dicom-seg"``, ``"nifti"``, ``"ome-zarr"``)
        into ``out_folder``; return a DataFrame of what was written. Never over a case's source
        image; over another existing file only with ``overwrite=True`` (or one an earlier export
        made). See :func:`nni_jupyter.study.export.export_study`."""
        return export_study(self, format, out_folder, overwrite)


#: Segmenters opened read-only, and the lock token of each one opened for writing.
_READ_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()
_TOKENS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


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
