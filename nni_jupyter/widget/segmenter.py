"""The Segmenter widget: synced traits, message dispatch, objects and history.

The work lives elsewhere: messages are validated by :mod:`.messages`, gestures become voxels in
:mod:`.raster`, prompts run on a :class:`~.worker.Worker` thread through an
:class:`~.annotator.Annotator`, and slices and masks are encoded by :mod:`.slices` and
:mod:`.codec`. The Python prompt methods (``add_point``...) come from :mod:`.prompt_api`; saving,
the prompt log and exports from :mod:`.outputs`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets as t

from ..volumes import LazyVolume
from ..volumes.display import DisplayReader, stride_for
from . import lifetime, memory, messages, persistence
from .annotator import Annotator, Outcome, Patch, Task
from .codec import encode_slices
from .inputs import UNBUILT_ESM, check_spacing, image_4d, spatial, static_asset
from .messages import ItemRequest, LabelsRequest, MessageError, SliceRequest, parse_message
from .models import load_model, model_info, scribble_thickness, supported_tools
from .objects import Volume
from .outputs import OutputsMixin
from .prompt_api import PromptsMixin
from .prompts import (
    GESTURE_TOOLS,
    OVERLAP_POLICIES,
    Command,
    Prompt,
    item_from_dict,
)
from .record import MAX_ANNOTATOR_LENGTH
from .slices import (
    DISPLAY_MAX_SIDE,
    default_window,
    extract_slices,
    intensity_stats,
    refinement,
    window_for,
    wire_dtype,
)
from .worker import Job, Worker

if TYPE_CHECKING:
    from nni_jupyter.inference.api import Session


class Segmenter(PromptsMixin, OutputsMixin, anywidget.AnyWidget):
    """nnInteractive in a notebook cell: show slices, draw prompts, get 3-D masks as numpy.

    Parameters
    ----------
    image
        ``[X, Y, Z]`` or ``[1, X, Y, Z]`` raw intensities (never resampled or converted), or an
        :class:`nni_jupyter.Image` from :func:`nni_jupyter.read_image` (spacing, origin and
        direction then come with it).
    session
        An inference session with the nnInteractive API. Default: nni_jupyter's own session on the
        best device (CUDA, MPS, CPU). A session without a loaded network gets the model below.
    model
        None: the best available (``nnInteractive_v1.0`` if present, else the bundled demo model;
        see :func:`nni_jupyter.weights.choose_model`), ``"demo"``, or a model folder.
    spacing
        Voxel spacing in mm ``(x, y, z)``, for the display aspect only.
    overlap
        ``"lock"`` (default: a prompt never takes voxels of other objects) or ``"overwrite"``.
    device
        torch device for the default session.
    memory_budget
        Bytes (or ``"8G"``) the Segmenter may use; default ``$NNI_JUPYTER_MEMORY_BUDGET``, else
        the memory available. A larger image is refused before it is loaded.
    autosave
        A ``.npz`` path: after every prompt or command the state is written there atomically
        (see :meth:`autosave`).
    precision
        Network precision of the default session: ``"auto"`` (fp16 on CUDA, bf16 on CPUs with
        native bf16, else fp32), ``"fp32"``, ``"bf16"`` or ``"fp16"``; shown in the status line.

    Notes
    -----
    Every prompt method takes the same path as a browser gesture and blocks until the mask is
    updated unless ``wait=False`` (then it returns a :class:`concurrent.futures.Future`). Watch
    masks with ``seg.observe(callback, names="labels_version")``.
    """

    _esm = static_asset("widget.js", UNBUILT_ESM)
    _css = static_asset("widget.css", "")

    shape = t.List(t.Int(), [1, 1, 1], minlen=3, maxlen=3).tag(sync=True)
    spacing_mm = t.List(t.Float(), [1.0, 1.0, 1.0], minlen=3, maxlen=3).tag(sync=True)
    image_dtype = t.Unicode("float32").tag(sync=True)
    intensity_stats = t.Dict().tag(sync=True)
    axis = t.Int(2, min=0, max=2).tag(sync=True)
    slice_index = t.List(t.Int(), [0, 0, 0], minlen=3, maxlen=3).tag(sync=True)
    view_layout = t.Enum(("single", "three"), "single").tag(sync=True)
    tool = t.Enum(GESTURE_TOOLS, "point").tag(sync=True)
    positive = t.Bool(True).tag(sync=True)
    window = t.List(t.Float(), [0.0, 1.0], minlen=2, maxlen=2).tag(sync=True)
    objects = t.List(t.Dict()).tag(sync=True)
    active_object = t.Int(1).tag(sync=True)
    opacity = t.Float(0.5, min=0.0, max=1.0).tag(sync=True)
    outline = t.Bool(False).tag(sync=True)
    show_masks = t.Bool(True).tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    pending = t.Int(0).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    model_info = t.Dict().tag(sync=True)
    supported_tools = t.List(t.Unicode()).tag(sync=True)
    scribble_thickness = t.List(t.Int(), [2, 2, 2], minlen=3, maxlen=3).tag(sync=True)
    overlap = t.Enum(OVERLAP_POLICIES, "lock").tag(sync=True)
    labels_version = t.Int(0).tag(sync=True)
    prompt_list = t.List(t.Dict()).tag(sync=True)

    def __init__(
        self,
        image: Any,
        session: Session | None = None,
        model: str | Path | None = None,
        spacing: Any = None,
        *,
        overlap: str = "lock",
        device: Any = None,
        autosave: str | Path | None = None,
        memory_budget: int | str | None = None,
        precision: str = "auto",
        **kwargs: Any,
    ):
        self._autosave_path: Path | None = None
        self._geometry = image if hasattr(image, "spacing_mm") else None  # an nni_jupyter.Image
        if self._geometry is not None:
            spacing = self._geometry.spacing_mm if spacing is None else spacing
            image = self._geometry.array
        image4d = image_4d(image)
        spacing = check_spacing(spacing)
        self._volume = spatial(image4d)
        self._image_tag = persistence.ImageTag(self._volume)
        self._closed = False
        if session is not None:  # refuse a session in use before loading anything into it
            lifetime.claim_session(session, self)
        session, name = load_model(session, model, device, precision)
        lifetime.claim_session(session, self)
        try:
            self._build(session, name, image4d, spacing, overlap, memory_budget, kwargs)
        except BaseException:
            lifetime.release_session(session, self)
            raise
        if autosave is not None:
            self.autosave(autosave)
        for earlier in lifetime.supersede(self):
            earlier.close()

    def _build(
        self,
        session: Any,
        name: str,
        image4d: np.ndarray,
        spacing: Any,
        overlap: str,
        memory_budget: int | str | None,
        kwargs: dict[str, Any],
    ) -> None:
        cache = None  # a lazy image costs its chunk cache (a memory map: the OS's page cache)
        if isinstance(self._volume, LazyVolume):
            cache = 0 if self._volume.direct else self._volume.cache.max_bytes
        network = getattr(session, "network", None)
        memory.check_fits(self._volume.shape, self._volume.dtype, network, memory_budget, cache)
        tools = supported_tools(session)
        thickness = scribble_thickness(session)
        # a lazy image streams its statistics on a thread: the view opens at once, prompts wait;
        # an image in memory is taken at once (a 512x512x300 CT in about 0.3 s), so a bad one
        # is refused here, before any Segmenter exists
        lazy = isinstance(image4d, LazyVolume)
        self._annotator = Annotator(session, image4d, tools, thickness, overlap, lazy)
        self._wire_dtype = wire_dtype(self._volume)
        shown: Any = self._volume
        lazy = isinstance(shown, LazyVolume) and shown.ndim == 3
        self._display = DisplayReader(shown) if lazy else None
        self._internal = threading.local()
        stats = intensity_stats(self._volume)
        info = model_info(session, name)
        shape = [int(s) for s in self._volume.shape]
        super().__init__(
            shape=shape,
            spacing_mm=spacing,
            image_dtype=self._wire_dtype.name,
            intensity_stats=stats,
            slice_index=[s // 2 for s in shape],
            window=window_for(kwargs.pop("window"))
            if "window" in kwargs
            else default_window(stats),
            objects=self._annotator.objects_state(),
            active_object=self._annotator.store.active,
            model_info=info,
            supported_tools=tools,
            scribble_thickness=thickness,
            overlap=overlap,
            **kwargs,
        )
        if info["warning"]:
            warnings.warn(info["warning"], stacklevel=2)
        self._worker = Worker(self._annotator.run, self._finish, self._set_state)
        self.on_msg(self._on_message)
        self.observe(self._on_active_object, names="active_object")
        self.observe(self._on_overlap, names="overlap")

    # ---- results ------------------------------------------------------------------------------

    @property
    def annotator(self) -> str | None:
        """Who gives the prompts: recorded with each prompt in the prompt log. Default None:
        ``$NNI_JUPYTER_ANNOTATOR`` when a prompt is submitted."""
        return self._annotator.annotator

    @annotator.setter
    def annotator(self, name: str | None) -> None:
        if name is not None and not (isinstance(name, str) and len(name) <= MAX_ANNOTATOR_LENGTH):
            raise ValueError(
                f"annotator must be None or text of at most {MAX_ANNOTATOR_LENGTH} characters; "
                f"got {str(name)[:80]!r}"
            )
        self._annotator.annotator = name

    @property
    def mask(self) -> Volume:
        """The active object's mask, uint8 0/1 ``[X, Y, Z]`` (a copy).

        For a lazy image (Zarr, OME-Zarr, Dask, memory map) a read-only
        :class:`~nni_jupyter.volumes.SparseVolume` snapshot: slice it, or ``np.asarray`` it
        when it fits in memory."""
        with self._annotator.lock:
            return self._annotator.store.mask()

    @property
    def labels(self) -> Volume:
        """All objects as an instance map, uint16 ``[X, Y, Z]``: 0 = background, else the id.

        For a lazy image a read-only :class:`~nni_jupyter.volumes.SparseVolume` snapshot (as
        :attr:`mask`); save it chunk by chunk with :meth:`save_labels`."""
        with self._annotator.lock:
            return self._annotator.store.instance_map()

    def aggregate(self, mode: str = "instance") -> Volume | dict[int, Volume]:
        """Return all objects combined.

        Parameters
        ----------
        mode
            ``"instance"`` (uint16 object ids), ``"semantic"`` (uint16 class ids; an object's
            class id defaults to its id) or ``"separate"`` (dict object id -> uint8 0/1 mask).
            Read-only sparse snapshots for a lazy image (as :attr:`labels`).
        """
        with self._annotator.lock:
            return self._annotator.store.aggregate(mode)

    @property
    def prompts(self) -> tuple[Prompt | Command, ...]:
        """Every prompt and command that ran, in order; ``replay`` them on a new Segmenter of the
        same image and model to get the same masks (``item.to_dict()`` gives a JSON-able form)."""
        return tuple(self._annotator.record)

    # ---- objects and history ------------------------------------------------------------------

    def new_object(
        self, name: str | None = None, class_id: int | None = None, *, wait: bool = True
    ) -> Any:
        """Finish the active object and start a new empty one; return its id."""
        result = self._submit(Command("new_object", object_name=name, class_id=class_id), wait)
        return result if not wait else self._annotator.store.active

    def select_object(self, object_id: int, *, wait: bool = True) -> Any:
        """Make an object active again so later prompts refine it (as setting ``active_object``)."""
        return self._submit(Command("select_object", object=object_id), wait)

    def delete_object(self, object_id: int, *, wait: bool = True) -> Any:
        """Remove an object and its voxels (undoable)."""
        return self._submit(Command("delete_object", object=object_id), wait)

    def reset_object(self, *, wait: bool = True) -> Any:
        """Clear the active object's mask and its prompts (undoable)."""
        return self._submit(Command("reset_object"), wait)

    def undo(self, *, wait: bool = True) -> Any:
        """Undo the latest change of any object; return False when there was nothing to undo."""
        result = self._submit(Command("undo"), wait, outcome=True)
        return result.applied if wait else result

    def redo(self, *, wait: bool = True) -> Any:
        """Redo the latest undone change; return False when there was nothing to redo."""
        result = self._submit(Command("redo"), wait, outcome=True)
        return result.applied if wait else result

    def replay(
        self, items: Iterable[Prompt | Command | dict[str, Any]], *, wait: bool = True
    ) -> list[Future[Outcome]]:
        """Run recorded prompts and commands (``seg.prompts`` or their ``to_dict()``) in order.

        With ``wait=True`` blocks until all ran and raises the first error, if any.
        """
        parsed = [
            item if isinstance(item, (Prompt, Command)) else item_from_dict(item) for item in items
        ]
        futures = [self._submit(item, wait=False) for item in parsed]
        if wait:
            for future in futures:
                future.result()
        return futures

    def remove_prompt(self, index: int, object: int | None = None, *, wait: bool = True) -> Any:
        """Delete prompt ``index`` of an object (default the active one) and recompute the object.

        ``index`` counts the prompts that still shape the object, as in :meth:`prompt_log`
        (negative counts from the end). The object is recomputed from its other prompts in one
        undoable step: :meth:`undo` brings back its mask and the prompt. Other objects keep their
        masks; the active object stays active.

        Raises
        ------
        IndexError
            When the object has no prompt ``index``.
        """
        command = Command("remove_prompt", object=object, index=index)
        return self._submit(command, wait)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued prompt has run; return False on timeout."""
        return self._worker.wait_idle(timeout)

    def show_3d(self, **kwargs: Any) -> Any:
        """An ipyvolume view of every object's surface, refreshed when masks change.

        Needs the ``[3d]`` extra. ``kwargs`` go to :func:`nni_jupyter.surfaces.live_view3d`.
        """
        from nni_jupyter.surfaces import live_view3d

        def observe(refresh: Any) -> None:
            self.observe(lambda _change: refresh(), names="labels_version")

        kwargs.setdefault("names", self._object_names())
        return live_view3d(lambda: self.labels, self.spacing_mm, observe, **kwargs)

    def set_window(self, window: Any) -> None:
        """Set the display window: a CT preset (``"soft tissue"``, ``"lung"``, ``"bone"``,
        ``"brain"``) or ``(level, width)``; also ``Segmenter(image, window=...)``."""
        self.window = window_for(window)

    def close(self) -> None:
        """Stop the worker (after queued prompts), release the session and close the widget.

        The masks stay readable (``mask``, ``labels``, ``save``); prompts are no longer taken.
        """
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.stop()
        annotator = getattr(self, "_annotator", None)
        if annotator is not None and annotator.session is not None:
            lifetime.release_session(annotator.session, self)
            annotator.session = None  # frees a session (and its image copy) nobody else holds
        self._closed = True
        super().close()

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
    ) -> Segmenter:
        """Restore a Segmenter saved with :meth:`save` on the same ``image``.

        ``session``, ``model`` and ``kwargs`` are as for the constructor (spacing and overlap
        default to the saved ones). ``check_image=False`` skips the check that the image's
        intensities match the saved fingerprint (its shape must always match).

        Raises
        ------
        ValueError
            When the file is not a segmentation, is damaged or invalid, or was saved for another
            image; always before anything is built.
        """
        volume = image.array if hasattr(image, "spacing_mm") else image
        # the whole file is checked before a session, a worker or a widget exists
        snapshot = persistence.load(path, spatial(image_4d(volume)), check_image)
        meta = snapshot.table
        kwargs.setdefault("spacing", meta.get("spacing_mm"))
        kwargs.setdefault("overlap", meta.get("overlap", "lock"))
        if meta.get("window"):
            kwargs.setdefault("window", meta["window"])
        autosave = kwargs.pop("autosave", None)
        seg = cls(image, session=session, model=model, **kwargs)
        seg._restore(snapshot, autosave)
        return seg

    # ---- dispatch -----------------------------------------------------------------------------

    def _submit(
        self,
        item: Prompt | Command,
        wait: bool,
        outcome: bool = False,
        annotator: str | None = None,
    ) -> Any:
        task = self._annotator.check(item, annotator)
        if wait and self._worker.in_worker_thread:
            raise RuntimeError(
                "a blocking call from inside a Segmenter callback would wait forever; "
                "pass wait=False"
            )
        future = self._worker.submit(task)
        if not wait:
            future.add_done_callback(_warn_on_failure)
            return future
        result: Outcome = future.result()
        return result if outcome else result.bbox

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        request_id = content.get("request_id") if isinstance(content, dict) else None
        try:
            request = parse_message(content, self._volume.shape)
            if isinstance(request, SliceRequest):
                self._send_slices(request)
            elif isinstance(request, LabelsRequest):
                self._send_labels(request.request_id)
            elif isinstance(request, ItemRequest):
                self._worker.submit(self._annotator.check(request.item), request.request_id)
        except Exception as exc:  # noqa: BLE001 - a browser message must never take the kernel down
            rid = exc.request_id if isinstance(exc, MessageError) else request_id
            self._report_error(
                exc, rid if isinstance(rid, int) and not isinstance(rid, bool) else None
            )

    def _send_slices(self, request: SliceRequest) -> None:
        axis, reader, region = request.axis, self._display, request.region
        plane = [n for a, n in enumerate(self._volume.shape) if a != axis]
        stride = 1  # an image in memory is never decimated: a region is a full-resolution crop
        if reader is not None and request.stride is None and region is None:
            stride = stride_for((plane[0], plane[1]), DISPLAY_MAX_SIDE)
        elif reader is not None:  # a zoomed view's refinement, at a bounded cost
            bound = 2 * DISPLAY_MAX_SIDE
            stride, region = refinement((plane[0], plane[1]), request.stride, region, bound)
        if reader is not None and (stride > 1 or region is not None):
            planes = [reader.slice(axis, i, stride, region) for i in request.indices]
        elif region is not None:
            (u0, u1), (v0, v1) = region
            key: list[Any] = [slice(u0, u1), slice(v0, v1)]
            planes = [self._volume[tuple(key[:axis] + [i] + key[axis:])] for i in request.indices]
        else:
            planes = []
        if planes:
            run = [np.ascontiguousarray(p, dtype=self._wire_dtype).tobytes() for p in planes]
            meta = {"dtype": self._wire_dtype.name, "shape": [int(n) for n in planes[0].shape]}
        else:
            run, meta = extract_slices(self._volume, axis, request.indices, self._wire_dtype)
        payloads, encoding = encode_slices(run)
        reply = messages.slice_reply(
            request, encoding=encoding, stride=stride, region=region, **meta
        )
        self.send(reply, payloads)

    def _send_labels(self, request_id: int | None) -> None:
        with self._annotator.lock:
            self.send(messages.labels_reset(request_id))
            self._send_patches(self._annotator.snapshot_patches(), request_id)

    def _send_patches(self, patches: Iterable[Patch], request_id: int | None) -> None:
        for patch in patches:
            self.send(messages.mask_patch(patch.object_id, patch.bbox, request_id), [patch.data])

    def _finish(
        self, job: Job[Task, Outcome], outcome: Outcome | None, error: BaseException | None
    ) -> None:
        """Report a finished job (worker thread): patches, then ``done``, then traits."""
        if error is not None:
            self._report_error(error, job.request_id)
            outcome = Outcome(None, (), True, 0.0)  # resync a rejected active_object
        elif outcome is None:
            raise RuntimeError("the worker reported a job with neither an outcome nor an error")
        else:
            self.error = ""
            with self._annotator.lock:
                self._send_patches(outcome.patches, job.request_id)
                self.send(messages.done(job.request_id, outcome.bbox, outcome.compute_s))
        try:
            with self._internal_update():
                if outcome.patches or outcome.objects_changed:
                    self.objects = self._annotator.objects_state()
                    self.active_object = self._annotator.store.active
                if isinstance(job.item.item, Command) and job.item.item.name == "set_overlap":
                    self.overlap = self._annotator.store.overlap  # also when replayed
                self._sync_prompt_list()
            if outcome.patches:
                self.labels_version += 1
        except Exception as exc:  # noqa: BLE001 - a user's observer must not fail the prompt
            warnings.warn(
                f"nni_jupyter: an observer raised {type(exc).__name__}: {exc}", stacklevel=2
            )
        if error is None:
            self._autosave_now()

    def _report_error(self, error: BaseException, request_id: int | None) -> None:
        message = f"{type(error).__name__}: {error}"
        self.error = message
        self.send(messages.error(request_id, message))
        if request_id is not None:
            warnings.warn(f"nni_jupyter: a browser request failed: {message}", stacklevel=2)

    def _set_state(self, busy: bool, pending: int) -> None:
        self.busy, self.pending = busy, pending

    @contextmanager
    def _internal_update(self) -> Iterator[None]:
        self._internal.active = True
        try:
            yield
        finally:
            self._internal.active = False

    def _on_active_object(self, change: dict[str, Any]) -> None:
        if getattr(self._internal, "active", False):
            return
        try:
            self._submit(Command("select_object", object=change["new"]), wait=False)
        except ValueError as exc:
            self._report_error(exc, None)

    def _on_overlap(self, change: dict[str, Any]) -> None:
        if not getattr(self._internal, "active", False):
            self._submit(Command("set_overlap", overlap=change["new"]), wait=False)


def _warn_on_failure(future: Future[Outcome]) -> None:
    error = future.exception()
    if error is not None:
        warnings.warn(
            f"nni_jupyter: a queued prompt failed: {type(error).__name__}: {error}", stacklevel=2
        )
