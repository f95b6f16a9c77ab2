"""The headless annotation of one image: the state and the work behind every Segmenter.

An :class:`Annotation` owns the image (with its geometry), the inference session, the objects and
their label map, every prompt and command in one ordered record, undo/redo, the prompt log,
save/load and measurements. It imports nothing of the widget: a script, a test or a Dask worker
uses it as it is, and :class:`nni_jupyter.Segmenter` holds one and only shows it.

Work runs on one worker thread (:mod:`.worker`) in submission order, so a notebook stays responsive;
every method that changes the state blocks until it ran unless ``wait=False`` (then it returns a
:class:`concurrent.futures.Future`). Views learn what changed through :meth:`Annotation.listen`.

The record is the truth: the masks are what running it gives. A prompt log (:meth:`log`) holds the
whole record, and :meth:`replay_log` on a new annotation of the same image runs it again through the
same path, so the labels come back voxel for voxel.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from ..volumes import LazyVolume
from . import lifetime, log, memory, outputs, persistence, verbs
from .inputs import check_spacing, image_4d, spatial
from .objects import Volume
from .prompts import Command as Command
from .prompts import Prompt, item_from_dict
from .record import MAX_ANNOTATOR_LENGTH, live_prompts
from .runner import Outcome, Runner, Snapshot, Task
from .sessions import (
    follow_performance,
    load_model,
    model_info,
    scribble_thickness,
    supported_tools,
)
from .worker import Job, Worker

if TYPE_CHECKING:
    from ..core.regions import Bbox
    from ..inference.api import Session

Item = Prompt | Command
#: How long :meth:`Annotation.close` lets queued items finish before cancelling them.
CLOSE_SECONDS = 10.0


@dataclass(frozen=True)
class Finished:
    """What a view hears after each item ran: the item, who asked (``request_id``, None for
    Python), and its outcome or its error (exactly one is None)."""

    item: Item
    request_id: int | None
    outcome: Outcome | None
    error: BaseException | None


Listener = Callable[[Finished], None]
StateListener = Callable[[bool, int], None]
WarningListener = Callable[[str], None]
ModelInfoListener = Callable[[dict[str, str]], None]


class Annotation:
    """Objects segmented in one 3-D image by prompts, with no widget.

    Parameters
    ----------
    image
        ``[X, Y, Z]`` or ``[1, X, Y, Z]`` raw intensities, a lazy array (Zarr, Dask, memory map),
        or an :class:`nni_jupyter.Image` (its spacing, origin and direction come with it).
    session
        A session with the nnInteractive API; default: nni_jupyter's own on the best device.
    model
        None (the best available model), ``"demo"``, a model id or a model folder.
    spacing
        Voxel spacing in mm ``(x, y, z)``; default the Image's, else 1 mm.
    overlap
        ``"lock"`` (a prompt never takes other objects' voxels) or ``"overwrite"``.
    device, precision
        For the default session (see :func:`nni_jupyter.load_session`).
    memory_budget
        Bytes (or ``"8G"``) this annotation may use; a larger image is refused before loading.
    """

    def __init__(
        self,
        image: Any,
        session: Session | None = None,
        model: str | Path | None = None,
        spacing: Any = None,
        *,
        overlap: str = "lock",
        device: Any = None,
        memory_budget: int | str | None = None,
        precision: str = "auto",
    ):
        self._closed = False
        self._listeners: list[Listener] = []
        self._state_listeners: list[StateListener] = []
        self._warning_listeners: list[WarningListener] = []
        self._model_info_listeners: list[ModelInfoListener] = []
        #: The status line (:func:`.sessions.model_info`), replaced when the session runs faster.
        self.model_info: dict[str, str] = {}
        self._model_info_lock = threading.Lock()
        self.autosave_path: Path | None = None
        #: The display window ``[level, width]`` a view shows, saved with the work (None: none).
        self.window: list[float] | None = None
        #: The :class:`nni_jupyter.Image` given (origin and direction for world positions), or None.
        self.geometry = image if hasattr(image, "spacing_mm") else None
        if self.geometry is not None:
            spacing = self.geometry.spacing_mm if spacing is None else spacing
            image = self.geometry.array
        image4d = image_4d(image)
        if isinstance(image4d, LazyVolume):  # closing this annotation must not close the user's
            image4d = image4d.detached()
        self.spacing_mm: list[float] = check_spacing(spacing)
        self.volume = spatial(image4d)
        self.image_tag = persistence.ImageTag(self.volume)
        if session is not None:  # refuse a session in use before loading anything into it
            lifetime.claim_session(session, self)
        session, name = load_model(session, model, device, precision)
        lifetime.claim_session(session, self)
        try:
            self._build(session, name, image4d, overlap, memory_budget)
        except BaseException:
            lifetime.release_session(session, self)
            raise

    def _build(
        self,
        session: Session,
        name: str,
        image4d: Any,
        overlap: str,
        memory_budget: int | str | None,
    ) -> None:
        cache = None  # a lazy image costs its chunk cache (a memory map: the OS's page cache)
        if isinstance(self.volume, LazyVolume):
            cache = 0 if self.volume.direct else self.volume.cache.max_bytes
        network = getattr(session, "network", None)
        memory.check_fits(self.volume.shape, self.volume.dtype, network, memory_budget, cache)
        self.tools = supported_tools(session)
        self.scribble_thickness = scribble_thickness(session)
        # a lazy image streams its statistics on a thread: prompts wait for it, views do not
        lazy = isinstance(image4d, LazyVolume)
        self.runner = Runner(
            session,
            image4d,
            self.tools,
            self.scribble_thickness,
            overlap,
            lazy,
            spacing=self.spacing_mm,
        )
        with self._model_info_lock:  # a choice the session makes meanwhile waits for the line
            follow_performance(session, self._performance_changed)
            self.model_info = model_info(session, name)
        self._worker: Worker[Task, Outcome] = Worker(self.runner.run, self._finish, self._state)

    # ---- views --------------------------------------------------------------------------------

    def listen(
        self,
        on_finish: Listener,
        on_state: StateListener | None = None,
        on_warning: WarningListener | None = None,
        on_model_info: ModelInfoListener | None = None,
    ) -> None:
        """Call ``on_finish`` (on the worker thread) after every item, ``on_state(busy,
        pending)`` when the queue changes, ``on_warning(message)`` when an autosave failed
        after its item ran and ``on_model_info(model_info)`` (from the session's thread) when
        the session chose a faster way to run. A listener that raises is reported as a
        warning."""
        self._listeners.append(on_finish)
        if on_state is not None:
            self._state_listeners.append(on_state)
        if on_warning is not None:
            self._warning_listeners.append(on_warning)
        if on_model_info is not None:
            self._model_info_listeners.append(on_model_info)

    def _finish(
        self, job: Job[Task, Outcome], outcome: Outcome | None, error: BaseException | None
    ) -> None:
        finished = Finished(job.item.item, job.request_id, outcome, error)
        for listener in list(self._listeners):
            try:
                listener(finished)
            except Exception as exc:  # noqa: BLE001 - a view must not fail the prompt
                warnings.warn(
                    f"nni_jupyter: a listener raised {type(exc).__name__}: {exc}", stacklevel=2
                )
        if error is None:
            self._autosave_now()

    def _state(self, busy: bool, pending: int) -> None:
        for listener in list(self._state_listeners):
            listener(busy, pending)

    def _performance_changed(self, performance: str) -> None:
        with self._model_info_lock:
            session = self.runner.session
            if self._closed or session is None or not self.model_info:
                return
            precision = str(getattr(session, "precision", None) or "")
            # a new dict, so that a view's trait set to it sees a change
            info = {**self.model_info, "performance": performance, "precision": precision}
            self.model_info = info
            for listener in list(self._model_info_listeners):
                try:
                    listener(info)
                except Exception as exc:  # noqa: BLE001 - the session's measuring must go on
                    warnings.warn(
                        f"nni_jupyter: a listener raised {type(exc).__name__}: {exc}", stacklevel=2
                    )

    # ---- submitting ---------------------------------------------------------------------------

    def submit(
        self, item: Item, request_id: int | None = None, annotator: str | None = None
    ) -> Future[Outcome]:
        """Check ``item`` now and queue it; return its future (never blocks).

        Raises
        ------
        ValueError
            When the prompt does not fit the image or the model (nothing is queued).
        RuntimeError
            When the annotation is closed.
        """
        if self._closed:
            raise RuntimeError("this annotation is closed: it takes no more prompts")
        return self._worker.submit(self.runner.check(item, annotator), request_id)

    def _run(self, item: Item, wait: bool, annotator: str | None = None) -> Any:
        if wait and self._worker.in_worker_thread:
            raise RuntimeError(
                "a blocking call from inside a listener would wait forever; pass wait=False"
            )
        future = self.submit(item, annotator=annotator)
        if not wait:
            future.add_done_callback(_warn_on_failure)
            return future
        return future.result()

    def _changed(self, item: Item, wait: bool) -> Any:
        result = self._run(item, wait)
        return result.bbox if wait else result

    # ---- the verbs (prompts, hand edits, objects, history): :mod:`.verbs` ---------------------

    add_point = verbs.add_point
    add_box = verbs.add_box
    add_scribble = verbs.add_scribble
    add_lasso = verbs.add_lasso
    add_mask = verbs.add_mask
    paint = verbs.paint
    erase = verbs.erase
    fill = verbs.fill
    fill_holes = verbs.fill_holes
    keep_largest = verbs.keep_largest
    remove_small = verbs.remove_small
    dilate = verbs.dilate
    erode = verbs.erode
    new_object = verbs.new_object
    select_object = verbs.select_object
    delete_object = verbs.delete_object
    rename_object = verbs.rename_object
    reset_object = verbs.reset_object
    set_overlap = verbs.set_overlap
    undo = verbs.undo
    redo = verbs.redo
    remove_prompt = verbs.remove_prompt

    def run_item(self, item: Item, wait: bool = True) -> Any:
        """Run a prompt or command; its :class:`Outcome` (or future with ``wait=False``)."""
        return self._run(item, wait)

    @overload
    def run_prompt(self, prompt: Prompt, wait: Literal[True] = ...) -> Bbox | None: ...
    @overload
    def run_prompt(self, prompt: Prompt, wait: Literal[False]) -> Future[Outcome]: ...
    @overload
    def run_prompt(self, prompt: Prompt, wait: bool = ...) -> Bbox | None | Future[Outcome]: ...
    def run_prompt(self, prompt: Prompt, wait: bool = True) -> Bbox | None | Future[Outcome]:
        """Run a :class:`Prompt`; return the changed bbox (or its future with ``wait=False``)."""
        return self._changed(prompt, wait)  # type: ignore[no-any-return]

    def replay(
        self, items: Iterable[Item | dict[str, Any]], *, wait: bool = True
    ) -> list[Future[Outcome]]:
        """Run recorded prompts and commands (``prompts`` or their ``to_dict()``) in order.

        With ``wait=True`` blocks until all ran and raises the first error, if any.
        """
        parsed = [
            item if isinstance(item, Prompt | Command) else item_from_dict(item) for item in items
        ]
        futures: list[Future[Outcome]] = [self._run(item, wait=False) for item in parsed]
        if wait:
            for future in futures:
                future.result()
        return futures

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued item has run; return False on timeout."""
        return self._worker.wait_idle(timeout)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Refuse new items, let queued ones finish for up to ``timeout`` seconds (then cancel
        them), stop reading a lazy image (its statistics pass too) and release the session; the
        masks stay readable. Returns within about ``timeout`` whatever is queued."""
        if self._closed:
            return
        self._closed = True
        if isinstance(self.volume, LazyVolume):
            self.volume.close()  # a statistics pass or a queued prompt stops at its next read
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.stop(timeout)
        runner = getattr(self, "runner", None)
        if runner is not None and runner.session is not None:
            lifetime.release_session(runner.session, self)
            runner.session = None  # frees a session (and its image copy) nobody else holds

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    # ---- results ------------------------------------------------------------------------------

    @property
    def annotator(self) -> str | None:
        """Who gives the prompts, recorded with each; None: ``$NNI_JUPYTER_ANNOTATOR``."""
        return self.runner.annotator

    @annotator.setter
    def annotator(self, name: str | None) -> None:
        if name is not None and not (isinstance(name, str) and len(name) <= MAX_ANNOTATOR_LENGTH):
            raise ValueError(
                f"annotator must be None or text of at most {MAX_ANNOTATOR_LENGTH} characters; "
                f"got {str(name)[:80]!r}"
            )
        self.runner.annotator = name

    @property
    def mask(self) -> Volume:
        """The active object's mask, uint8 0/1 ``[X, Y, Z]`` (a copy; a read-only sparse
        snapshot for a lazy image)."""
        with self.runner.lock:
            return self.runner.store.mask()

    @property
    def labels(self) -> Volume:
        """All objects as an instance map, uint16 ``[X, Y, Z]``: 0 = background, else the id."""
        with self.runner.lock:
            return self.runner.store.instance_map()

    def aggregate(self, mode: str = "instance") -> Volume | dict[int, Volume]:
        """All objects combined: ``"instance"`` (uint16 ids), ``"semantic"`` (uint16 class ids)
        or ``"separate"`` (dict id -> uint8 mask)."""
        with self.runner.lock:
            return self.runner.store.aggregate(mode)

    @property
    def prompts(self) -> tuple[Item, ...]:
        """Every prompt and command that ran, in order: the record the masks come from."""
        with self.runner.lock:
            return tuple(self.runner.record)

    @property
    def objects(self) -> list[dict[str, Any]]:
        """Each object's id, name, colour, class id, visibility and voxel count."""
        return self.runner.objects_state()

    @property
    def active_object(self) -> int:
        """The id of the object prompts go to."""
        return self.runner.store.active

    @property
    def overlap(self) -> str:
        """The overlap policy later prompts run under."""
        return self.runner.store.overlap

    def live_prompts(self, object_id: int | None = None) -> list[Any]:
        """The prompts that still shape an object (default the active one), as record entries;
        empty when the record does not say which object each acted on (an old save file)."""
        with self.runner.lock:
            try:
                live = live_prompts(self.runner.record, self.runner.stamps)
            except ValueError:
                return []
            return live.get(self.runner.store.active if object_id is None else object_id, [])

    # ---- the prompt log -----------------------------------------------------------------------

    def log(self, annotator: str | None = None) -> dict[str, Any]:
        """The prompt log: image, model, every object's prompts (voxels and world mm) and the
        whole ordered record that :meth:`replay_log` runs again (see :mod:`.log`)."""
        self._wait_outside_worker()
        runner = self.runner
        with runner.lock:  # the record, not the label map: no copy of the masks
            items, stamps = tuple(runner.record), tuple(runner.stamps)
            objects, overlap = runner.objects_state(), runner.store.overlap
        who = log.credited(annotator)
        geometry = log.geometry_of(self.geometry, self.volume.shape, self.spacing_mm)
        model = log.model_entry(runner.session, self.model_info)
        record = log.record_entries(items, stamps, runner.initial_overlap, who)
        # a record restored from a save file without stamps cannot say which object each
        # prompt shaped: live_prompts says so (ValueError) rather than guess
        live = live_prompts(items, stamps)
        fingerprint = self.image_tag.fingerprint
        return log.build(geometry, fingerprint, model, objects, live, overlap, who, record)

    def save_log(self, path: str | Path, annotator: str | None = None) -> Path:
        """Write :meth:`log` to ``path`` as JSON, atomically; return the path."""
        return log.save(path, self.log(annotator))

    def replay_log(self, source: dict[str, Any] | str | Path, *, force: bool = False) -> None:
        """Replay a prompt log (a dict or a file, checked first) on this new annotation.

        A log with its record (version 2) runs every item again in order, so the labels are
        those the log was written from; a version 1 log rebuilds each object from its prompts.

        Raises
        ------
        ValueError
            When the log is invalid, is for another image shape, or (unless ``force``) for an
            image with another fingerprint; or when this annotation already holds a record.
        """
        checked = log.check(source) if isinstance(source, dict) else log.read(source)
        shape = [int(s) for s in self.volume.shape]
        if shape != checked["image"]["shape"]:
            raise ValueError(
                f"the prompt log is for an image of shape {checked['image']['shape']}; "
                f"this one is {shape}"
            )
        expected = checked["image"]["fingerprint"]
        if not force and expected != self.image_tag.fingerprint:
            raise ValueError(
                f"the prompt log was written for another image (fingerprint {expected[:16]}..., "
                f"this image's is {self.image_tag.fingerprint[:16]}...): its prompts would "
                "segment different voxels. Pass force=True to replay it anyway."
            )
        self._wait_outside_worker()
        if "record" in checked:
            if self.runner.record:
                raise ValueError(
                    "a prompt log with its record replays on a new annotation; this one already "
                    f"ran {len(self.runner.record)} items"
                )
            with self.runner.lock:
                self.runner.store.set_overlap(checked.get("initial_overlap") or "lock")
        futures = [self.submit(item, annotator=who) for item, who in log.replay_plan(checked)]
        for future in futures:
            future.result()

    # ---- saving -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write labels, objects, the record and settings to ``path`` (``.npz``, atomically).

        Waits for queued items first. Restore with :meth:`load`; the undo history is not saved.
        """
        self._wait_outside_worker()
        return persistence.save(
            path, self.runner.snapshot(), self.image_tag, self.spacing_mm, self.window
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        image: Any,
        session: Session | None = None,
        model: str | Path | None = None,
        *,
        check_image: bool = True,
        **kwargs: Any,
    ) -> Annotation:
        """Restore an annotation saved with :meth:`save` on the same ``image``.

        Raises
        ------
        ValueError
            When the file is not a segmentation, is damaged, or was saved for another image;
            always before a session or worker exists.
        """
        snapshot, meta = read_save_file(path, image, check_image)
        kwargs.setdefault("spacing", meta.get("spacing_mm"))
        kwargs.setdefault("overlap", meta.get("overlap", "lock"))
        annotation = cls(image, session=session, model=model, **kwargs)
        annotation.restore(snapshot)
        return annotation

    def restore(self, snapshot: Snapshot) -> None:
        """Take over a checked save file's state (closing this annotation when it does not fit)."""
        try:
            self.runner.restore(snapshot)
        except BaseException:
            self.close()
            raise

    def autosave(self, path: str | Path | None) -> None:
        """Save to ``path`` now and after every item that ran (``None`` turns it off).

        Raises
        ------
        IsADirectoryError
            When ``path`` is a folder (nothing changes then).
        """
        target = None if path is None else Path(path).expanduser()
        if target is not None and target.is_dir():
            raise IsADirectoryError(
                f"autosave needs a file path such as {target / 'work.npz'}; {target} is a folder"
            )
        self.autosave_path = target
        if target is not None:
            self.save(target)

    def _autosave_now(self) -> None:
        if self.autosave_path is None:
            return
        try:
            persistence.save(
                self.autosave_path,
                self.runner.snapshot(),
                self.image_tag,
                self.spacing_mm,
                self.window,
            )
        except Exception as exc:  # noqa: BLE001 - a failed save must not fail the prompt
            message = f"autosave to {self.autosave_path} failed: {type(exc).__name__}: {exc}"
            warnings.warn(f"nni_jupyter: {message}", stacklevel=2)
            for listener in list(self._warning_listeners):
                listener(message)

    # ---- measurements and exports -------------------------------------------------------------

    def object_names(self) -> dict[int, str]:
        """Object id -> name."""
        return {int(item["id"]): str(item["name"]) for item in self.objects}

    def measure(self, as_dataframe: bool | None = None) -> Any:
        """Per object: voxels, volume in mL, bbox, centroid in voxels and in mm (a DataFrame
        when pandas is installed, else a list of dicts; see :func:`nni_jupyter.measure`)."""
        self._wait_outside_worker()
        return outputs.measure_labels(self, as_dataframe)

    def export(self, format: str, path: str | Path) -> Path | tuple[Path, Path]:
        """Write every object, with name, class id and colour: ``"dicom-seg"``, ``"ome-zarr"``
        or ``"nifti"`` (labels plus a ``.tsv`` table; returns both paths)."""
        self._wait_outside_worker()
        return outputs.export(self, format, path)

    def save_labels(self, path: str | Path, name: str = "labels") -> Path:
        """Write the label map chunk by chunk: into an OME-Zarr image as ``labels/<name>``,
        else as a plain uint16 Zarr array ``[X, Y, Z]``; return the path written."""
        self._wait_outside_worker()
        return outputs.save_labels(self, path, name)

    def _wait_outside_worker(self) -> None:
        if not self._worker.in_worker_thread:
            self.wait()


def read_save_file(
    path: str | Path, image: Any, check_image: bool
) -> tuple[Snapshot, dict[str, Any]]:
    """Check a whole save file against ``image``; return its state and its settings."""
    volume = image.array if hasattr(image, "spacing_mm") else image
    snapshot = persistence.load(path, spatial(image_4d(volume)), check_image)
    return snapshot, snapshot.table


def _warn_on_failure(future: Future[Outcome]) -> None:
    error = future.exception()
    if error is not None:
        warnings.warn(
            f"nni_jupyter: a queued prompt failed: {type(error).__name__}: {error}", stacklevel=2
        )
