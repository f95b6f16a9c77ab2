"""Undo, redo and atomic prompts for the session (see :mod:`.history` for the storage)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .history import TARGET, History, Step
from .regions import Bbox, union_bboxes


class UndoRedoMixin:
    """Multi-level undo/redo and roll-back of failed prompts.

    The session provides ``history``, ``supports_undo``, ``last_changed_bbox``, ``_state``,
    ``_decay`` and ``_queue``.
    """

    history: History
    supports_undo: bool
    last_changed_bbox: Bbox | None

    def _scalars(self) -> dict[str, Any]:
        return {
            "intensity": self._decay.intensity,
            "queue": [(list(c), z) for c, z in self._queue],
            "last_changed_bbox": self.last_changed_bbox,
        }

    def _restore_scalars(self, scalars: dict[str, Any]) -> None:
        self._decay.intensity = scalars["intensity"]
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
                self._state.apply(step, forward=False)
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
        self._state.apply(step, forward=False)
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
        self._state.apply(step, forward=True)
        self._restore_scalars(step.state_after)
        self.last_changed_bbox = self._changed_target_bbox(step)
        return True
