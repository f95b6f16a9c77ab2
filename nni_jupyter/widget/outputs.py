"""The Segmenter's work written out and read back: save files, autosave, the prompt log, exports
and measurements.

:class:`OutputsMixin` holds these methods of :class:`~.segmenter.Segmenter`; the formats live in
:mod:`.persistence`, :mod:`.prompt_log` and :mod:`nni_jupyter.exports`.
"""

from __future__ import annotations

import warnings
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..system_memory import gib, memory_limit
from ..volumes import SparseVolume
from . import persistence, prompt_log
from .record import live_prompts, prompt_rows

if TYPE_CHECKING:
    from .annotator import Annotator, Snapshot
    from .objects import Volume
    from .worker import Worker


class OutputsMixin:
    """Saving, loading, autosave, the prompt log, exports and measurements of a Segmenter."""

    if TYPE_CHECKING:  # what the Segmenter provides
        _annotator: Annotator
        _worker: Worker[Any, Any]
        _geometry: Any
        _image_tag: persistence.ImageTag
        _volume: np.ndarray
        _autosave_path: Path | None
        shape: list[int]
        spacing_mm: list[float]
        window: list[float]
        objects: list[dict[str, Any]]
        active_object: int
        overlap: str
        labels_version: int
        error: str
        prompt_list: list[dict[str, Any]]
        model_info: dict[str, Any]

        @property
        def labels(self) -> Volume: ...

        def wait(self, timeout: float | None = None) -> bool: ...

        def replay(self, items: Any, *, wait: bool = True) -> Any: ...

        def _submit(
            self, item: Any, wait: bool, outcome: bool = False, annotator: str | None = None
        ) -> Any: ...

        def close(self) -> None: ...

        def _internal_update(self) -> AbstractContextManager[None]: ...

    # ---- saving -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write labels, objects, prompts and settings to ``path`` (``.npz``, atomically).

        Waits for queued prompts first. Restore with :meth:`Segmenter.load`; the undo history
        is not saved.
        """
        if not self._worker.in_worker_thread:
            self.wait()
        return self._save_now(path)

    def _restore(self, snapshot: Snapshot, autosave: str | Path | None) -> None:
        """Take over a checked save file's state (a new Segmenter: :meth:`Segmenter.load`)."""
        try:
            self._annotator.restore(snapshot)
        except BaseException:
            self.close()
            raise
        with self._internal_update():
            self.objects = self._annotator.objects_state()
            self.active_object = self._annotator.store.active
            self.overlap = self._annotator.store.overlap
            self._sync_prompt_list()
        self.labels_version += 1
        if autosave is not None:
            self.autosave(autosave)

    def autosave(self, path: str | Path | None) -> None:
        """Save to ``path`` now and after every prompt or command (``None`` turns it off)."""
        self._autosave_path = None if path is None else Path(path).expanduser()
        if self._autosave_path is not None:
            self.save(self._autosave_path)

    def _autosave_now(self) -> None:
        if self._autosave_path is None:
            return
        try:
            self._save_now(self._autosave_path)
        except Exception as exc:  # noqa: BLE001 - a failed save must not fail the prompt
            # the prompt itself succeeded: a banner and a warning, no ``error`` reply
            self.error = f"autosave to {self._autosave_path} failed: {type(exc).__name__}: {exc}"
            warnings.warn(f"nni_jupyter: {self.error}", stacklevel=2)

    def _save_now(self, path: str | Path) -> Path:
        snapshot = self._annotator.snapshot()
        return persistence.save(path, snapshot, self._image_tag, self.spacing_mm, self.window)

    def prompt_log(self, annotator: str | None = None) -> dict[str, Any]:
        """Return the prompt log: image, model and every object's prompts (JSON-able dict).

        Prompts are in voxels and in world mm (the :class:`nni_jupyter.Image`'s geometry, else
        ``spacing_mm`` with zero origin and identity direction). Each prompt names who gave it
        (:attr:`annotator` when it was submitted); ``annotator`` (default
        ``$NNI_JUPYTER_ANNOTATOR``) names it for prompts that recorded nobody (restored from old
        save files). See :mod:`nni_jupyter.widget.prompt_log`.
        """
        if not self._worker.in_worker_thread:
            self.wait()
        with self._annotator.lock:
            live = live_prompts(self._annotator.record, self._annotator.stamps)
            overlap = self._annotator.store.overlap
        geometry = prompt_log.geometry_of(self._geometry, self.shape, self.spacing_mm)
        model = prompt_log.model_entry(self._annotator.session, self.model_info["name"])
        fingerprint = self._image_tag.fingerprint
        objects = self.objects
        return prompt_log.build(geometry, fingerprint, model, objects, live, overlap, annotator)

    def save_prompt_log(self, path: str | Path, annotator: str | None = None) -> Path:
        """Write :meth:`prompt_log` to ``path`` as JSON, atomically; return the path."""
        return prompt_log.save(path, self.prompt_log(annotator))

    def replay_prompt_log(self, log: dict[str, Any] | str | Path) -> None:
        """Replay a prompt log's voxel prompts (a dict or a file, checked first) on this image.

        Meant for a new Segmenter: its objects are created in the log's id order, and each
        prompt keeps its annotator.
        """
        if isinstance(log, dict):
            log = prompt_log.check(log)
        else:
            log = prompt_log.read(log)
        if list(self.shape) != log["image"]["shape"]:
            raise ValueError(
                f"the prompt log is for an image of shape {log['image']['shape']}; "
                f"this one is {list(self.shape)}"
            )
        futures = [  # each prompt keeps the annotator the log names for it
            self._submit(item, wait=False, annotator=who)
            for item, who in prompt_log.replay_plan(log)
        ]
        for future in futures:
            future.result()

    def measure(self, as_dataframe: bool | None = None) -> Any:
        """Per object: voxels, volume in mL, bbox, centroid in voxels and in mm.

        Physical positions use the image's origin and direction when the Segmenter was given an
        :class:`nni_jupyter.Image`. Returns a DataFrame when pandas is installed, else a list of
        dicts (see :func:`nni_jupyter.measure`).
        """
        from nni_jupyter.measurements import measure

        geometry = self._geometry if self._geometry is not None else self.spacing_mm
        return measure(self.labels, geometry, self._object_names(), as_dataframe=as_dataframe)

    def export(self, format: str, path: str | Path) -> Path | tuple[Path, Path]:
        """Write every object, with its name, class id and colour, in a standard format.

        ``format``: ``"dicom-seg"`` (needs the Segmenter built on an :class:`nni_jupyter.Image`
        read from a DICOM series), ``"ome-zarr"`` (image plus ``labels/labels``; into the image's
        own OME-Zarr, only the labels are added) or ``"nifti"`` (labels plus a ``.tsv`` table:
        returns both paths). Waits for queued prompts first; see
        :mod:`nni_jupyter.exports`.
        """
        from nni_jupyter.exports.formats import export

        self.wait()
        labels = self.labels
        if isinstance(labels, SparseVolume):  # a lazy image's: these formats need it dense
            _check_dense_fits(labels, format)
        image = self._geometry if self._geometry is not None else self._volume
        return export(
            format, path, labels, self.objects, image, self.spacing_mm, self.model_info["name"]
        )

    def save_labels(self, path: str | Path, name: str = "labels") -> Path:
        """Write the label map chunk by chunk (never whole in memory for a lazy image).

        Into an OME-Zarr image at ``path`` (typically the one the image was read from) the labels
        go as ``labels/<name>``, with the objects' names, class ids and colours, at the
        resolution level the Segmenter works on (the image is not touched). Any other ``path``
        gets a plain uint16 Zarr array of the label map in ``[X, Y, Z]`` order. Waits for queued
        prompts first; returns the path written.
        """
        from nni_jupyter.exports.segments import per_object
        from nni_jupyter.exports.zarr_labels import add_ome_zarr_labels, write_zarr_labels
        from nni_jupyter.volumes.ome_zarr import LEVEL_KEY, levels

        self.wait()
        labels = self.labels
        target = Path(path).expanduser()
        try:
            found = levels(target) if target.exists() else []
        except ValueError:  # a folder that is not an OME-Zarr image
            found = []
        if not found:
            return write_zarr_labels(target, labels)
        same = [i for i, level in enumerate(found) if level.shape == tuple(labels.shape)]
        geometry = self._geometry
        source = getattr(geometry, "path", None)
        if source and Path(source).resolve() == target.resolve():  # the image's own store
            same = [int(geometry.metadata.get(LEVEL_KEY, 0))]
        if not same:
            raise ValueError(
                f"{target} has no resolution level of the labels' shape {tuple(labels.shape)}; "
                f"its levels are {[level.shape for level in found]}"
            )
        names, class_ids, colors = per_object(self.objects)
        return add_ome_zarr_labels(
            target, labels, names, colors, class_ids, level=same[0], label_name=name
        )

    def _object_names(self) -> dict[int, str]:
        return {int(item["id"]): str(item["name"]) for item in self.objects}

    def _sync_prompt_list(self) -> None:
        """Set ``prompt_list`` to the active object's live prompts (empty when unknown)."""
        with self._annotator.lock:
            try:
                live = live_prompts(self._annotator.record, self._annotator.stamps)
            except ValueError:  # prompts restored from a version 1 file: their objects are unknown
                live = {}
            rows = prompt_rows(live.get(self._annotator.store.active, []))
        if rows != self.prompt_list:
            self.prompt_list = rows


#: Dense copies of the label map an export may hold at once (labels, one object's mask, its
#: encoded frames).
_EXPORT_COPIES = 3


def _check_dense_fits(labels: SparseVolume, format: str) -> None:
    """Refuse, with the numbers, an export whose dense label map would not fit in memory."""
    needed = labels.size * max(labels.dtype.itemsize, 2) * _EXPORT_COPIES
    limit, source = memory_limit()
    if limit is not None and needed > limit:
        raise MemoryError(
            f"exporting {format!r} makes the label map {list(labels.shape)} dense: about "
            f"{gib(needed)}, more than {gib(limit)} ({source}). Write it chunk by chunk with "
            "seg.save_labels(path) (OME-Zarr or Zarr), or save the work with seg.save(path)."
        )
