"""The Segmenter widget: a view of one :class:`~nni_jupyter.annotation.Annotation`.

The state and the work (image, session, objects, prompts, undo, the prompt log, saving) live in
the annotation; this class holds one and adds what a view needs: synced traits, the browser's
messages (checked by :mod:`.messages`), slices on request (:mod:`.slices`) and the front-end
assets. Every public method below hands its work to the annotation by name.
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

from ..annotation import Annotation, Finished, Outcome, Patch, verbs
from ..annotation.annotation import read_save_file
from ..annotation.codec import encode_slices
from ..annotation.lifetime import supersede
from ..annotation.objects import Volume
from ..annotation.prompts import (
    GESTURE_TOOLS,
    OVERLAP_POLICIES,
    SLICE_EDITS,
    Command,
    Prompt,
    prompt_focus,
)
from ..annotation.record import prompt_rows
from ..core.regions import Bbox
from ..surfaces import live_view3d
from ..volumes import LazyVolume
from ..volumes.display import DisplayReader, stride_for
from ..windows import default_window, window_for
from . import messages
from . import snapshot as pictures
from .assets import UNBUILT_ESM, static_asset
from .messages import ItemRequest, LabelsRequest, MessageError, SliceRequest, parse_message
from .slices import DISPLAY_MAX_SIDE, extract_slices, intensity_stats, refinement, wire_dtype

if TYPE_CHECKING:
    from ..inference.api import Session


class Segmenter(anywidget.AnyWidget):
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
        Network precision of the default session: ``"auto"`` (fp16 on CUDA; on a CPU the
        fastest measured), ``"fp32"``, ``"bf16"`` or ``"fp16"``; the status line says which
        runs and why, and follows the session when it chooses a faster one.

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
    tool = t.Enum((*GESTURE_TOOLS, *SLICE_EDITS), "point").tag(sync=True)
    #: The brush's radius for paint and erase, in ``brush_unit`` (voxels or mm).
    brush_radius = t.Float(3.0, min=0.5, max=512.0).tag(sync=True)
    brush_unit = t.Enum(("voxel", "mm"), "voxel").tag(sync=True)
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
        annotation = Annotation(
            image,
            session,
            model,
            spacing,
            overlap=overlap,
            device=device,
            memory_budget=memory_budget,
            precision=precision,
        )
        try:
            self._show(annotation, kwargs)
            if autosave is not None:
                annotation.autosave(autosave)
        except BaseException:
            annotation.close()
            if hasattr(self, "comm"):
                super().close()
            raise
        for earlier in supersede(self):
            earlier.close()

    @classmethod
    def of(cls, annotation: Annotation, **kwargs: Any) -> Segmenter:
        """A view of an existing :class:`~nni_jupyter.annotation.Annotation` (``kwargs``: the
        widget's traits, such as ``window`` or ``axis``)."""
        seg = cls.__new__(cls)
        seg._show(annotation, kwargs)
        return seg

    def _show(self, annotation: Annotation, kwargs: dict[str, Any]) -> None:
        self.annotation = annotation
        volume = annotation.volume
        self._wire_dtype = wire_dtype(volume)
        lazy = isinstance(volume, LazyVolume) and volume.ndim == 3
        self._display = DisplayReader(volume) if lazy else None
        self._internal = threading.local()
        stats = intensity_stats(volume)
        shape = [int(s) for s in volume.shape]
        window = kwargs.pop("window", None)
        super().__init__(
            shape=shape,
            spacing_mm=list(annotation.spacing_mm),
            image_dtype=self._wire_dtype.name,
            intensity_stats=stats,
            slice_index=[s // 2 for s in shape],
            window=default_window(stats) if window is None else window_for(window),
            objects=annotation.objects,
            active_object=annotation.active_object,
            model_info=annotation.model_info,
            supported_tools=annotation.tools,
            scribble_thickness=annotation.scribble_thickness,
            overlap=annotation.overlap,
            **kwargs,
        )
        if annotation.model_info.get("warning"):
            warnings.warn(annotation.model_info["warning"], stacklevel=3)
        annotation.listen(self._finish, self._set_state, self._warn, self._set_model_info)
        self.on_msg(self._on_message)
        self.observe(self._on_active_object, names="active_object")
        self.observe(self._on_overlap, names="overlap")
        self.observe(self._on_window, names="window")
        annotation.window = list(self.window)
        self._sync_prompt_list()

    # ---- the verbs: the annotation's own (:mod:`nni_jupyter.annotation.verbs`), run through
    # run_item and run_prompt below, which bring a prompt into view --------------------------

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
    undo = verbs.undo
    redo = verbs.redo
    remove_prompt = verbs.remove_prompt

    def run_item(self, item: Prompt | Command, wait: bool = True) -> Any:
        """Run a prompt or command through the annotation (:meth:`Annotation.run_item`)."""
        return self.annotation.run_item(item, wait)

    def run_prompt(self, prompt: Prompt, wait: bool = True) -> Bbox | None | Future[Outcome]:
        """Run a prompt made in Python through the annotation and bring its slice into view,
        as if drawn there."""
        result = self.annotation.run_prompt(prompt, wait)
        plane, where = prompt_focus(prompt)
        index = list(self.slice_index)
        for axis, value in where.items():
            index[axis] = min(max(int(value), 0), self.shape[axis] - 1)
        self.slice_index = index
        if plane is not None:
            self.axis = plane
        return result

    def replay(
        self, items: Iterable[Prompt | Command | dict[str, Any]], *, wait: bool = True
    ) -> list[Future[Outcome]]:
        """Run recorded prompts and commands in order (:meth:`Annotation.replay`)."""
        return self.annotation.replay(items, wait=wait)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued prompt has run; return False on timeout."""
        return self.annotation.wait(timeout)

    # ---- results (the annotation's) ----------------------------------------------------------

    @property
    def annotator(self) -> str | None:
        """Who gives the prompts (:attr:`Annotation.annotator`)."""
        return self.annotation.annotator

    @annotator.setter
    def annotator(self, name: str | None) -> None:
        self.annotation.annotator = name

    @property
    def mask(self) -> Volume:
        """The active object's mask, uint8 0/1 ``[X, Y, Z]`` (:attr:`Annotation.mask`)."""
        return self.annotation.mask

    @property
    def labels(self) -> Volume:
        """All objects as a uint16 instance map (:attr:`Annotation.labels`)."""
        return self.annotation.labels

    def aggregate(self, mode: str = "instance") -> Volume | dict[int, Volume]:
        """All objects combined (:meth:`Annotation.aggregate`)."""
        return self.annotation.aggregate(mode)

    @property
    def prompts(self) -> tuple[Prompt | Command, ...]:
        """Every prompt and command that ran, in order (:attr:`Annotation.prompts`)."""
        return self.annotation.prompts

    def prompt_log(self, annotator: str | None = None) -> dict[str, Any]:
        """The prompt log (:meth:`Annotation.log`)."""
        return self.annotation.log(annotator)

    def save_prompt_log(self, path: str | Path, annotator: str | None = None) -> Path:
        """Write the prompt log as JSON, atomically (:meth:`Annotation.save_log`)."""
        return self.annotation.save_log(path, annotator)

    def replay_prompt_log(self, log: dict[str, Any] | str | Path, *, force: bool = False) -> None:
        """Replay a prompt log on this new Segmenter (:meth:`Annotation.replay_log`)."""
        self.annotation.replay_log(log, force=force)

    def save(self, path: str | Path) -> Path:
        """Write labels, objects, prompts and settings to ``.npz`` (:meth:`Annotation.save`)."""
        return self.annotation.save(path)

    def autosave(self, path: str | Path | None) -> None:
        """Save now and after every prompt (:meth:`Annotation.autosave`)."""
        self.annotation.autosave(path)

    def measure(self, as_dataframe: bool | None = None) -> Any:
        """Per-object measurements (:meth:`Annotation.measure`)."""
        return self.annotation.measure(as_dataframe)

    def export(self, format: str, path: str | Path) -> Path | tuple[Path, Path]:
        """Write every object in a standard format (:meth:`Annotation.export`)."""
        return self.annotation.export(format, path)

    def save_labels(self, path: str | Path, name: str = "labels") -> Path:
        """Write the label map chunk by chunk (:meth:`Annotation.save_labels`)."""
        return self.annotation.save_labels(path, name)

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

        ``session``, ``model`` and ``kwargs`` are as for the constructor (spacing, overlap and
        window default to the saved ones). ``check_image=False`` skips the check that the
        image's intensities match the saved fingerprint (its shape must always match).

        Raises
        ------
        ValueError
            When the file is not a segmentation, is damaged or invalid, or was saved for another
            image; always before anything is built.
        """
        snapshot, meta = read_save_file(path, image, check_image)
        kwargs.setdefault("spacing", meta.get("spacing_mm"))
        kwargs.setdefault("overlap", meta.get("overlap", "lock"))
        if meta.get("window"):
            kwargs.setdefault("window", meta["window"])
        autosave = kwargs.pop("autosave", None)
        seg = cls(image, session=session, model=model, **kwargs)
        try:
            seg.annotation.restore(snapshot)
        except BaseException:
            seg.close()
            raise
        seg._refresh()
        if autosave is not None:
            seg.autosave(autosave)
        return seg

    # ---- the view -----------------------------------------------------------------------------

    def show_3d(self, **kwargs: Any) -> Any:
        """An ipyvolume view of every object's surface, refreshed when masks change.

        Needs the ``[3d]`` extra. ``kwargs`` go to :func:`nni_jupyter.surfaces.live_view3d`.
        """

        def observe(refresh: Any) -> None:
            self.observe(lambda _change: refresh(), names="labels_version")

        kwargs.setdefault("names", self.annotation.object_names())
        return live_view3d(lambda: self.labels, self.spacing_mm, observe, **kwargs)

    def set_window(self, window: Any) -> None:
        """Set the display window: a CT preset (``"soft tissue"``, ``"lung"``, ``"bone"``,
        ``"brain"``) or ``(level, width)``; also ``Segmenter(image, window=...)``."""
        self.window = window_for(window)

    def snapshot(self, axis: int | None = None, index: int | None = None) -> pictures.Snapshot:
        """A PNG picture of slice ``index`` along ``axis`` (default: what the view shows) with
        the masks in their colours and a legend of object names; Jupyter shows it as an image,
        ``.png`` holds its bytes and ``.save(path)`` writes them (:mod:`.snapshot`)."""
        return pictures.of_view(self, axis, index)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, and beside it a PNG of the view for renderers without a kernel."""
        return pictures.view_bundle(self, super()._repr_mimebundle_(**kwargs))

    def close(self) -> None:
        """Stop the worker (after queued prompts), release the session and close the widget.

        The masks stay readable (``mask``, ``labels``, ``save``); prompts are no longer taken.
        """
        annotation = getattr(self, "annotation", None)
        if annotation is not None:
            annotation.close()
        super().close()

    @property
    def _closed(self) -> bool:
        annotation = getattr(self, "annotation", None)
        return annotation is None or annotation.closed

    # ---- messages -----------------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        request_id = content.get("request_id") if isinstance(content, dict) else None
        try:
            request = parse_message(content, self.annotation.volume.shape)
            if isinstance(request, SliceRequest):
                self._send_slices(request)
            elif isinstance(request, LabelsRequest):
                self._send_labels(request.request_id)
            elif isinstance(request, ItemRequest):
                self.annotation.submit(request.item, request.request_id)
        except Exception as exc:  # noqa: BLE001 - a browser message must never take the kernel down
            rid = exc.request_id if isinstance(exc, MessageError) else request_id
            self._report_error(
                exc, rid if isinstance(rid, int) and not isinstance(rid, bool) else None
            )

    def _send_slices(self, request: SliceRequest) -> None:
        axis, reader, region = request.axis, self._display, request.region
        plane = [n for a, n in enumerate(self.annotation.volume.shape) if a != axis]
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
            planes = [
                self.annotation.volume[tuple(key[:axis] + [i] + key[axis:])]
                for i in request.indices
            ]
        else:
            planes = []
        if planes:
            run = [np.ascontiguousarray(p, dtype=self._wire_dtype).tobytes() for p in planes]
            meta = {"dtype": self._wire_dtype.name, "shape": [int(n) for n in planes[0].shape]}
        else:
            run, meta = extract_slices(
                self.annotation.volume, axis, request.indices, self._wire_dtype
            )
        payloads, encoding = encode_slices(run)
        reply = messages.slice_reply(
            request, encoding=encoding, stride=stride, region=region, **meta
        )
        self.send(reply, payloads)

    def _send_labels(self, request_id: int | None) -> None:
        runner = self.annotation.runner
        with runner.lock:
            self.send(messages.labels_reset(request_id))
            self._send_patches(runner.snapshot_patches(), request_id)

    def _send_patches(self, patches: Iterable[Patch], request_id: int | None) -> None:
        for patch in patches:
            self.send(messages.mask_patch(patch.object_id, patch.bbox, request_id), [patch.data])

    def _finish(self, finished: Finished) -> None:
        """Report a finished item (worker thread): patches, then ``done``, then traits."""
        outcome = finished.outcome
        if finished.error is not None:
            self._report_error(finished.error, finished.request_id)
            outcome = Outcome(None, (), True, 0.0)  # resync a rejected active_object
        elif outcome is None:
            raise RuntimeError("the annotation reported an item with neither outcome nor error")
        else:
            self.error = ""
            with self.annotation.runner.lock:
                self._send_patches(outcome.patches, finished.request_id)
                self.send(messages.done(finished.request_id, outcome.bbox, outcome.compute_s))
        try:
            self._refresh(bool(outcome.patches or outcome.objects_changed), bool(outcome.patches))
        except Exception as exc:  # noqa: BLE001 - a user's observer must not fail the prompt
            warnings.warn(
                f"nni_jupyter: an observer raised {type(exc).__name__}: {exc}", stacklevel=2
            )

    def _refresh(self, objects: bool = True, labels: bool = True) -> None:
        """Bring the traits up to the annotation (after an item ran, or a restore)."""
        annotation = self.annotation
        with self._internal_update():
            if objects:
                self.objects = annotation.objects
                self.active_object = annotation.active_object
            self.overlap = annotation.overlap
            self._sync_prompt_list()
        if labels:
            self.labels_version += 1

    def _sync_prompt_list(self) -> None:
        rows = prompt_rows(self.annotation.live_prompts())
        if rows != self.prompt_list:
            self.prompt_list = rows

    def _report_error(self, error: BaseException, request_id: int | None) -> None:
        message = f"{type(error).__name__}: {error}"
        self.error = message
        self.send(messages.error(request_id, message))
        if request_id is not None:
            warnings.warn(f"nni_jupyter: a browser request failed: {message}", stacklevel=2)

    def _warn(self, message: str) -> None:
        self.error = message

    def _set_state(self, busy: bool, pending: int) -> None:
        self.busy, self.pending = busy, pending

    def _set_model_info(self, info: dict[str, str]) -> None:
        self.model_info = info

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
            self.annotation.submit(Command("select_object", object=change["new"]))
        except ValueError as exc:
            self._report_error(exc, None)

    def _on_window(self, change: dict[str, Any]) -> None:
        self.annotation.window = list(change["new"])

    def _on_overlap(self, change: dict[str, Any]) -> None:
        if not getattr(self._internal, "active", False):
            self.annotation.submit(Command("set_overlap", overlap=change["new"]))
