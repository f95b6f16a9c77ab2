"""Multi-level undo and redo that store only the voxels each step changed.

A step is the list of region diffs one prompt caused (interaction channels and target buffer) plus
the session's small scalar state before and after it. A diff keeps the flat indices of the changed
voxels inside its region and their values before and after, so memory grows with the size of the
change, never with the image. The history keeps at most ``max_steps`` steps and ``max_bytes``
bytes, dropping the oldest first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .regions import Bbox

DEFAULT_MAX_STEPS = 32
DEFAULT_MAX_BYTES = 512 * 1024**2
INTERACTIONS = "interactions"
TARGET = "target"


@dataclass
class RegionDiff:
    """The changed voxels of one region of one array.

    Attributes
    ----------
    kind
        ``"interactions"`` or ``"target"``.
    channel
        Interaction channel (None for the target buffer).
    region
        Image-space bbox (inside the image) the indices refer to.
    index
        Flat (C-order) indices of the changed voxels within ``region``.
    before, after
        Their values before and after the step (CPU tensors).
    """

    kind: str
    channel: int | None
    region: Bbox
    index: torch.Tensor
    before: torch.Tensor
    after: torch.Tensor

    @property
    def nbytes(self) -> int:
        """Bytes held by the diff's arrays."""
        return sum(t.numel() * t.element_size() for t in (self.index, self.before, self.after))

    def positions(self) -> tuple[torch.Tensor, ...]:
        """Per-axis index tensors of the changed voxels, local to ``region``."""
        shape = [hi - lo for lo, hi in self.region]
        unravelled = np.unravel_index(self.index.numpy(), shape)
        return tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in unravelled)


def diff_region(
    kind: str, channel: int | None, region: Bbox, before: torch.Tensor, after: torch.Tensor
) -> RegionDiff | None:
    """Return the diff between two equally shaped tensors of one region, or None if equal."""
    changed = torch.nonzero((before != after).flatten()).flatten()
    if changed.numel() == 0:
        return None
    flat_before = before.flatten()[changed].cpu()
    flat_after = after.flatten()[changed].cpu()
    index = changed.to(device="cpu", dtype=torch.int32 if before.numel() < 2**31 else torch.int64)
    return RegionDiff(kind, channel, [list(b) for b in region], index, flat_before, flat_after)


@dataclass
class Step:
    """One undoable prompt: its diffs (in write order) and the scalar state around it."""

    state_before: dict[str, Any]
    diffs: list[RegionDiff] = field(default_factory=list)
    state_after: dict[str, Any] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by the step's diffs."""
        return sum(d.nbytes for d in self.diffs)


class History:
    """Undo and redo stacks of :class:`Step`, bounded in steps and bytes.

    Parameters
    ----------
    max_steps
        Most undoable steps kept (at least 1).
    max_bytes
        Most bytes of diffs kept; the newest step is always kept.
    """

    def __init__(self, max_steps: int = DEFAULT_MAX_STEPS, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1; got {max_steps}")
        self.max_steps = int(max_steps)
        self.max_bytes = int(max_bytes)
        self._undo: deque[Step] = deque()
        self._redo: list[Step] = []
        self.open_step: Step | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by all kept steps."""
        return sum(s.nbytes for s in self._undo) + sum(s.nbytes for s in self._redo)

    @property
    def undo_depth(self) -> int:
        """Number of steps that can be undone."""
        return len(self._undo)

    def begin(self, state_before: dict[str, Any]) -> None:
        """Open a new step; diffs recorded until :meth:`commit` belong to it."""
        self.open_step = Step(state_before)

    def record(self, diff: RegionDiff | None) -> None:
        """Add a diff to the open step (ignored when none is open or the diff is empty)."""
        if diff is not None and self.open_step is not None:
            self.open_step.diffs.append(diff)

    def commit(self, state_after: dict[str, Any]) -> None:
        """Close the open step and push it; clears the redo stack and enforces the bounds."""
        step, self.open_step = self.open_step, None
        if step is None:
            return
        step.state_after = state_after
        self._undo.append(step)
        self._redo.clear()
        while len(self._undo) > self.max_steps:
            self._undo.popleft()
        while len(self._undo) > 1 and self.nbytes > self.max_bytes:
            self._undo.popleft()

    def abandon(self) -> Step | None:
        """Close the open step without keeping it; return it so its diffs can be rolled back."""
        step, self.open_step = self.open_step, None
        return step

    def pop_undo(self) -> Step | None:
        """Take the newest step for undoing (it moves to the redo stack)."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return step

    def pop_redo(self) -> Step | None:
        """Take the most recently undone step for redoing (it moves back to the undo stack)."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return step

    def clear(self) -> None:
        """Forget every step."""
        self._undo.clear()
        self._redo.clear()
        self.open_step = None
