"""Run prompts and commands against an inference session and an object store.

The session segments one object at a time into a target buffer (``buffer``); the
:class:`~.objects.ObjectStore` keeps every object. After each prompt the changed region of the
buffer is written into the active object under the overlap policy, and the result is described as
mask patches for views. Knows nothing about widgets; all calls but :meth:`Runner.check` and the
readers run on one thread (the annotation's worker).

A prompt is rasterized once, by `Runner.check`, which returns the :class:`Task` that
`Runner.run` runs. `Runner.snapshot` and `Runner.restore` give and take
the whole state (objects, masks, the record) as plain values, for saving.

Switching objects, undo and redo re-seed the session from the active object's mask with
``add_initial_seg_interaction`` (or ``reset_interactions`` for an empty mask): the mask carries over
exactly; the earlier prompts of that object live on through it, not as separate interactions.

Hand edits (paint, erase, fill and the 3-D clean-ups; :mod:`.edits`) are prompts that change the
active object without the model, as one store step each; the session is then re-seeded from the
edited mask (as after ``add_mask``), so the next prompt continues from it and the earlier
prompts' channels are dropped: ``bench/edit_then_click.py`` measured it against keeping them
(the simulated user's click after a box and a hand-corrected slice: mean Dice 0.701 against
0.698 on 22 phantom organs, and 73% of the corrected slice kept against 59%). The re-seed
waits for the next session call (:attr:`Runner.reseed_pending`): a stroke costs no full-volume
write, and strokes in a row cost one re-seed; nothing reads the session in between, so the result
is the same.

``remove_prompt`` is the one command that runs the session several times: it recomputes an object
from its other prompts (:func:`~.record.live_prompts`) inside one store step, so a single undo
brings back both the mask and the prompt.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..core.regions import Bbox, to_slices, union_bboxes
from ..volumes import LazyVolume, SparseVolume
from .codec import encode_mask
from .edits import apply_edit
from .guards import out_of_memory_hint
from .objects import ObjectStore, Volume
from .prompts import EDIT_TOOLS, Command, Prompt
from .raster import Interaction, rasterize
from .record import ANNOTATOR_ENV, Stamp, live_prompts, pick
from .steps import Change

if TYPE_CHECKING:
    from nni_jupyter.inference.api import ChangedBbox, Session

T = TypeVar("T")


@dataclass(frozen=True)
class Patch:
    """One object's 0/1 mask inside ``bbox``, as the browser receives it (PROTOCOL.md)."""

    object_id: int
    bbox: Bbox  # half-open, image voxels
    data: bytes  # packbits-deflate: the codec's encode_mask of the crop


def utc_now() -> str:
    """The current time as a UTC ISO 8601 string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Task:
    """An item that passed `Runner.check`, with its prompt's interaction (or None)."""

    item: Prompt | Command
    interaction: Interaction | None = None
    submitted: str = field(default_factory=utc_now)
    annotator: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The annotator's whole state: the store's ``(owner, table)`` export, the record and its
    stamps (None: not known, as in files written before stamps were saved)."""

    owner: Volume
    table: dict[str, Any]
    record: tuple[Prompt | Command, ...]
    stamps: tuple[Stamp, ...] | None = None


@dataclass(frozen=True)
class Outcome:
    """What running an item did.

    The changed bbox, the patches to send, whether the object table changed, the session time in
    seconds, and ``applied`` False when undo/redo had nothing to do.
    """

    bbox: Bbox | None
    patches: tuple[Patch, ...]
    objects_changed: bool
    compute_s: float
    applied: bool = True


class Runner:
    """Prompts and commands in, object masks out.

    ``session`` is a loaded inference session (the reference API); ``image`` the raw intensities
    ``[1, X, Y, Z]``, passed to ``session.set_image`` as they are; ``tools`` the gesture tools the
    model supports; ``thickness`` the scribble width per axis in voxels; ``overlap`` ``"lock"`` or
    ``"overwrite"`` (may a prompt take other objects' voxels). With ``prepare_in_background``
    the session takes the image on a thread of its own (a lazy image streams its statistics from
    disk): the caller need not wait, and the first job waits until it is done.

    A lazy image (:class:`~nni_jupyter.volumes.LazyVolume`) gets sparse storage: the object
    store's owner map and, when the session accepts one (``session.accepts_sparse``), the target
    buffer are :class:`~nni_jupyter.volumes.SparseVolume`, so memory follows the objects, not
    the image; an image in memory keeps dense numpy storage (the faster path for small volumes).
    ``spacing`` (mm per voxel, default 1) gives the 3-D clean-ups their millimetres and mL.
    """

    def __init__(
        self,
        session: Session,
        image: Any,
        tools: list[str],
        thickness: list[int],
        overlap: str = "lock",
        prepare_in_background: bool = False,
        spacing: Any = None,
    ):
        self.session = session
        self.spacing = [1.0, 1.0, 1.0] if spacing is None else [float(s) for s in spacing]
        _, x, y, z = image.shape
        self.shape = (int(x), int(y), int(z))
        self.tools = list(tools)
        self.thickness = list(thickness)
        sparse = isinstance(image, LazyVolume)
        self.store = ObjectStore(self.shape, overlap=overlap, sparse=sparse)
        #: The overlap policy the record starts under (a replay starts there too).
        self.initial_overlap = self.store.overlap
        #: Set when a failed call may have left the session out of step with the objects: the
        #: next item first records and runs a ``resync``, so a replay of the record does the same.
        self.out_of_step = False
        #: Set by a hand edit: the session starts from the active object's mask before its next
        #: call (every other session action re-seeds or resets it anyway).
        self.reseed_pending = False
        self._session_called = False
        self.lock = threading.RLock()
        self.record: list[Prompt | Command] = []
        self.stamps: list[Stamp] = []  # one per record item
        #: Who gives the prompts (recorded with each); None: ``$NNI_JUPYTER_ANNOTATOR``.
        self.annotator: str | None = None
        self.buffer: Volume = (
            SparseVolume(self.shape, np.uint8)
            if sparse and getattr(session, "accepts_sparse", False)
            else np.zeros(self.shape, dtype=np.uint8)
        )
        self._image_ready = threading.Event()
        self._image_error: BaseException | None = None
        if prepare_in_background:
            threading.Thread(
                target=self._take_image, args=(image,), name="nni_jupyter-set-image", daemon=True
            ).start()
        else:
            self._take_image(image)
            if self._image_error is not None:
                raise self._image_error

    def _take_image(self, image: Any) -> None:
        try:
            self.session.set_image(image)
            self.session.set_target_buffer(self.buffer)
        except BaseException as error:  # kept for the jobs that need the image
            self._image_error = error
        finally:
            self._image_ready.set()

    def wait_for_image(self, timeout: float | None = None) -> bool:
        """Wait until the session holds the image; False on timeout.

        Raises
        ------
        RuntimeError
            When the session could not take the image (the cause is chained).
        """
        if not self._image_ready.wait(timeout):
            return False
        if self._image_error is not None:
            raise RuntimeError(
                f"the image could not be prepared for the model: {self._image_error}"
            ) from self._image_error
        return True

    # ---- checking (any thread) ----------------------------------------------------------------

    def check(self, item: Prompt | Command, annotator: str | None = None) -> Task:
        """Check that ``item`` can run on this image and model (state aside); rasterize a prompt.

        Raises
        ------
        ValueError
            When the prompt does not fit the image or uses a tool the model does not support.
        """
        if isinstance(item, Prompt):
            if item.tool != "mask" and item.tool not in (*self.tools, *EDIT_TOOLS):
                raise ValueError(
                    f"the loaded model does not support {item.tool} prompts; it supports "
                    f"{', '.join(self.tools)}"
                )
            interaction = rasterize(item, self.shape, self.thickness)
            return Task(item, interaction, annotator=annotator or self.who())
        if not isinstance(item, Command):
            raise TypeError(f"expected a Prompt or Command; got {type(item).__name__}")
        return Task(item, annotator=annotator or self.who())

    def who(self) -> str | None:
        """Who gives the prompts now: :attr:`annotator`, else ``$NNI_JUPYTER_ANNOTATOR``."""
        return self.annotator or os.environ.get(ANNOTATOR_ENV) or None

    # ---- running (the worker thread) ----------------------------------------------------------

    def run(self, task: Task) -> Outcome:
        """Run a checked prompt or command; record it when it succeeds."""
        self.wait_for_image()
        if self.out_of_step:
            active = self.store.active
            resync = Task(Command("resync"))
            self._record(resync, self._command(resync.item), active)  # type: ignore[arg-type]
            self.out_of_step = False
        active = self.store.active
        self._session_called = False
        try:
            outcome = self._dispatch(task)
        except BaseException:
            # a failed call may have left part of itself in the session (a remote engine that
            # timed out still holds the prompt); a check that failed before any call did not
            rolled_back = getattr(self.session, "keeps_state_on_failure", False)
            self.out_of_step = self.out_of_step or (self._session_called and not rolled_back)
            raise
        self._record(task, outcome, active)
        return outcome

    def _dispatch(self, task: Task) -> Outcome:
        if isinstance(task.item, Command) and task.item.name == "remove_prompt":
            return self._remove_prompt(task.item)
        if isinstance(task.item, Command):
            return self._command(task.item)
        if task.interaction is not None and task.interaction.is_edit:
            return self._edit(task.interaction)
        if task.interaction is not None:
            return self._prompt(task.interaction)
        raise ValueError("a prompt runs as the Task that Runner.check returns for it")

    def _record(self, task: Task, outcome: Outcome, active_before: int) -> None:
        with self.lock:
            acted_on = _acted_on(task.item, active_before, self.store.active)
            overlap = self.store.overlap
            self.record.append(task.item)
            self.stamps.append(
                Stamp(acted_on, task.submitted, outcome.applied, overlap, task.annotator)
            )

    def _prompt(self, interaction: Interaction) -> Outcome:
        start = time.perf_counter()
        with out_of_memory_hint(getattr(self.session, "device", "the device")):
            region = self._call_session(interaction)
        compute_s = time.perf_counter() - start
        with self.lock:
            with self.store.step(interaction.kind) as step:
                if region is not None:
                    self.store.write_active(region, self.buffer[to_slices(region)])
            return self._outcome(self.store.change_of(step), compute_s)

    def _edit(self, edit: Interaction) -> Outcome:
        """Apply a hand edit to the active object as one step; re-seed the session from it."""
        start = time.perf_counter()
        with self.lock:
            with self.store.step(edit.kind) as step:
                apply_edit(self.store, edit, self.spacing)
            change = self.store.change_of(step)
            self.reseed_pending = True
            return self._outcome(change, time.perf_counter() - start)

    def _remove_prompt(self, command: Command) -> Outcome:
        """Remove one prompt and recompute its object from the rest: one undoable step.

        The object is cleared and its remaining prompts run again from an empty session, each
        with the refinement seed and the overlap policy of its first run; other objects keep
        their voxels (as under any prompt). The active object stays active.
        """
        start = time.perf_counter()
        store, active = self.store, self.store.active
        object_id = active if command.object is None else command.object
        with self.lock:
            if object_id not in store.objects:
                raise ValueError(
                    f"no object with id {object_id}; objects are {sorted(store.objects)}"
                )
            entries = live_prompts(self.record, self.stamps).get(object_id, [])
        position = pick(entries, object_id, command)
        rest = [
            (e.sequence, e.stamp.overlap or store.overlap, self.check(e.prompt).interaction)
            for e in entries
        ]
        del rest[position]
        try:
            with store.step("remove_prompt") as step:
                with self.lock:
                    store.select(object_id)
                    store.clear_active()
                self._reset_session()
                for sequence, overlap, interaction in rest:
                    if interaction is not None and interaction.is_edit:
                        self._redo_edit(interaction, overlap)
                        continue
                    region = self._call_session(_given(interaction, "prompt", "raster"), sequence)
                    if region is not None:
                        with self.lock, store.overlap_as(overlap):
                            store.write_active(region, self.buffer[to_slices(region)])
                with self.lock:
                    store.select(active)
        except BaseException:
            self._reseed_active()  # the store rolled back; the session follows it
            raise
        if active != object_id:
            self._reseed_active()
        with self.lock:
            return self._outcome(store.change_of(step), time.perf_counter() - start)

    def _redo_edit(self, edit: Interaction, overlap: str) -> None:
        """Apply an edit again while recomputing its object (it is the active one there)."""
        with self.lock, self.store.overlap_as(overlap):
            apply_edit(self.store, replace(edit, object=None), self.spacing)
        self.reseed_pending = True

    def _reseed_active(self) -> None:
        with self.lock:
            mask = self.store.mask()
        self._reseed(mask)

    def _call_session(self, interaction: Interaction, seed: int | None = None) -> Bbox | None:
        """Call the session; return the buffer region to take over (None: nothing changed)."""
        if self.reseed_pending:
            self._reseed_active()
        session, positive = self.session, interaction.positive
        self._session_called = True
        full = [[0, s] for s in self.shape]
        if hasattr(session, "refinement_rng"):
            # refinement covers leftover voxels around random picks: seed it by the prompt's place
            # in the record, so replaying seg.prompts gives the same masks
            place = len(self.record) if seed is None else seed
            session.refinement_rng = np.random.RandomState(place)
        changed: ChangedBbox
        if interaction.kind == "point":
            point = _given(interaction.point, "point", "point")
            changed = session.add_point_interaction(point, include_interaction=positive)
        elif interaction.kind == "bbox":
            bbox = _given(interaction.bbox, "bbox", "bbox")
            changed = session.add_bbox_interaction(bbox, include_interaction=positive)
        elif interaction.kind in ("scribble", "lasso"):
            add = (
                session.add_scribble_interaction
                if interaction.kind == "scribble"
                else session.add_lasso_interaction
            )
            crop = _given(interaction.crop, interaction.kind, "crop")
            changed = add(crop, include_interaction=positive, interaction_bbox=interaction.bbox)
        else:
            mask = self._empty_mask()
            if interaction.crop is not None:
                bbox = _given(interaction.bbox, interaction.kind, "bbox")
                mask[to_slices(bbox)] = interaction.crop
            with self.lock:
                old = self.store.object_bbox(self.store.active)
            changed = session.add_initial_seg_interaction(mask, run_prediction=interaction.refine)
            if interaction.refine and changed is None:
                return full
            return union_bboxes([old, interaction.bbox, _as_bbox(changed)])
        # a session that does not report the changed region may have written anywhere
        reported = _as_bbox(changed)
        return full if reported is None else reported

    def _command(self, command: Command) -> Outcome:
        start = time.perf_counter()
        with self.lock:
            change, session_action = self._apply_command(command)
            mask = self.store.mask() if session_action == "reseed" else None
        self._session_called = self._session_called or session_action is not None
        if session_action == "reset":
            self._reset_session()
        elif mask is not None:
            self._reseed(mask)
        compute_s = time.perf_counter() - start
        if change is None:
            applied = command.name not in ("undo", "redo")
            return Outcome(None, (), command.name == "select_object", compute_s, applied)
        with self.lock:
            return self._outcome(change, compute_s)

    def _apply_command(self, command: Command) -> tuple[Change | None, str | None]:
        """Change the store; return the change and the session action: reset, reseed or None."""
        name, store = command.name, self.store
        if name in ("undo", "redo"):
            change = store.undo() if name == "undo" else store.redo()
            return change, None if change is None else "reseed"
        if name == "select_object":
            if command.object_id() == store.active:
                return None, None
            store.select(command.object_id())
            return None, "reseed"
        if name == "resync":
            return None, "reseed"
        if name == "set_overlap":
            if command.overlap is None:
                raise ValueError("set_overlap needs an overlap policy; got None")
            store.set_overlap(command.overlap)
            return None, None
        active = store.active
        with store.step(name) as step:
            if name == "new_object":
                store.create(command.object_name, command.class_id)
            elif name == "reset_object":
                store.clear_active()
            elif name == "rename_object":
                store.rename(command.object_id(), command.object_name, command.class_id)
            else:
                store.delete(command.object_id())
        if name in ("new_object", "reset_object"):
            return store.change_of(step), "reset"
        if name == "rename_object":
            return store.change_of(step), None
        return store.change_of(step), "reseed" if store.active != active else None

    def _empty_mask(self) -> Volume:
        """A zero mask of the image's shape, stored as the target buffer is."""
        if isinstance(self.buffer, SparseVolume):
            return SparseVolume(self.shape, np.uint8)
        return np.zeros(self.shape, dtype=np.uint8)

    def _reset_session(self) -> None:
        """Clear the session's interactions (an empty object)."""
        self._session_called = True
        self.reseed_pending = False
        self.session.reset_interactions()

    def _reseed(self, mask: Volume) -> None:
        """Start the session over from ``mask`` (the active object's, exactly)."""
        self._session_called = True
        self.reseed_pending = False
        if not mask.any():
            self.session.reset_interactions()
            return
        if isinstance(mask, SparseVolume) and not isinstance(self.buffer, SparseVolume):
            mask = np.asarray(mask)  # a session that takes dense masks only
        self.session.add_initial_seg_interaction(mask, run_prediction=False)

    def _outcome(self, change: Change, compute_s: float) -> Outcome:
        patches = tuple(
            Patch(object_id, bbox, data)
            for bbox, masks in change.masks
            for object_id, data in sorted(masks.items())
        )
        return Outcome(change.bbox, patches, change.objects_changed, compute_s)

    # ---- the whole state (saving) -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Return the whole state, taken under the lock: objects, masks and the record."""
        with self.lock:
            owner, table = self.store.export()
            return Snapshot(owner, table, tuple(self.record), tuple(self.stamps))

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the whole state with ``snapshot`` (worker idle); re-seed the session from it.

        Raises
        ------
        ValueError
            When the snapshot does not fit this image (see :meth:`ObjectStore.load`).
        """
        self.wait_for_image()
        with self.lock:
            self.store.load(snapshot.owner, snapshot.table)
            self.record[:] = snapshot.record
            stamps = snapshot.stamps or (Stamp(None, None),) * len(snapshot.record)
            if len(stamps) != len(snapshot.record):
                raise ValueError(
                    f"the record has {len(snapshot.record)} items but {len(stamps)} stamps"
                )
            self.stamps[:] = stamps
            mask = self.store.mask()
            self.initial_overlap = next(
                (stamp.overlap for stamp in stamps[:1] if stamp.overlap), self.store.overlap
            )
        self._reseed(mask)
        # the session now starts from the masks, not from the prompts behind them: the next item
        # records that, so a replay of the record reaches the same session state
        self.out_of_step = bool(snapshot.record)

    # ---- reading (any thread) -----------------------------------------------------------------

    def snapshot_patches(self) -> list[Patch]:
        """Return one patch per object with voxels: the full label state for a fresh view."""
        with self.lock:
            patches = []
            for object_id in self.store.objects:
                bbox = self.store.object_bbox(object_id)
                if bbox is not None:
                    crop = self.store.owner[to_slices(bbox)] == object_id
                    patches.append(Patch(object_id, bbox, encode_mask(crop)))
            return patches

    def objects_state(self) -> list[dict[str, Any]]:
        """Return the ``objects`` trait value (PROTOCOL.md)."""
        with self.lock:
            return [
                {**info.to_dict(), "voxels": int(self.store.voxels.get(info.id, 0))}
                for info in self.store.objects.values()
            ]


def _acted_on(item: Prompt | Command, before: int, after: int) -> int:
    """The object an item acted on, from the active object before and after it ran."""
    if isinstance(item, Command):
        if item.name == "new_object":
            return after
        if item.object is not None:
            return item.object
    return before


def _given(value: T | None, kind: str, part: str) -> T:
    """``value``, which a ``kind`` interaction always has (raster.py sets it)."""
    if value is None:
        raise ValueError(f"a {kind} interaction needs its {part}; got None")
    return value


def _as_bbox(changed: ChangedBbox) -> Bbox | None:
    """The session's changed region as a list bbox of ints (it may give numpy values)."""
    return None if changed is None else [[int(lo), int(hi)] for lo, hi in changed]
