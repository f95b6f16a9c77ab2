"""Undo, redo and atomic prompts for the session (see :mod:`.history` for the storage)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .channels import Decay
from .history import TARGET, History, Step
from .regions import Bbox, union_bboxes
from .state import SegmentationState


class UndoRedoMixin:
    """Multi-level undo/redo and roll-back of failed prompts.

    The session provides ``history``, ``supports_undo``, ``last_changed_bbox``, ``_state``,
    ``_decay`` and ``_queue``.
    """

    history: History
    supports_undo: bool
    last_changed_bbox: Bbox | None
    _state: SegmentationState | None
    _decay: Decay | None
    _queue: list[tuple[list[int], float]]

    def _image_state(self) -> tuple[SegmentationState, Decay]:
        """The state that steps change; it exists once a model and an image are set."""
        if self._state is None or self._decay is None:
            raise RuntimeError("no image set: call set_image(image) before adding prompts")
        return self._state, self._decay

    def _scalars(self) -> dict[str, Any]:
        _, decay = self._image_state()
        return {
            "intensity": decay.intensity,
            "queue": [(list(c), z) for c, z in self._queue],
            "last_changed_bbox": self.last_changed_bbox,
        }

    def _restore_scalars(self, scalars: dict[str, Any] | None) -> None:
        if scalars is None:
            raise RuntimeError("this step was never committed: it has no state to restore")
        _, decay = self._image_state()
        decay.intensity = scalars["intensity"]
        self._queue = [(list(c), z) for c, z in scalars["queue"]]

    @contextlib.contextmanager
    def _step(self) -> Iterator[None]:
        """One atomic, undoable prompt: on any error everything it changed is rolled back."""
        self.history.begin(self._scalars())
        try:
            yield
        except BaseException:
            step = self.history.abandon()
            if step is not None:
                self._image_state()[0].apply(step, forward=False)
                self._restore_scalars(step.state_before)
                self.last_changed_bbox = step.state_before["last_changed_bbox"]
            raise
        if self.supports_undo:
            self.history.commit(self._scalars())
        else:
            self.history.abandon()

    def _changed_target_bbox(self, step: Step) -> Bbox | None:
        regions = [d.region for d in step.diffs if d.kind == TARGET]
        return union_bboxes(regions)

    def undo(self) -> bool:
        """Revert the most recent prompt (repeatable, up to the history's depth).

        Returns
        -------
        bool
            True when something was undone.
        """
        step = self.history.pop_undo()
        if step is None:
            return False
        self._image_state()[0].apply(step, forward=False)
        self._restore_scalars(step.state_before)
        self.last_changed_bbox = self._changed_target_bbox(step)
        return True

    def redo(self) -> bool:
        """Re-apply the most recently undone prompt.

        Returns
        -------
        bool
            True when something was redone.
        """
        step = self.history.pop_redo()
        if step is None:
            return False
        self._image_state()[0].apply(step, forward=True)
        self._restore_scalars(step.state_after)
        self.last_changed_bbox = self._changed_target_bbox(step)
        return True
