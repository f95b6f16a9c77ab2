"""The mutable segmentation state of a session: interaction channels and target buffer.

Every write goes through here so that it is recorded in the :class:`History` (when a step is
open) and can be undone, redone, or rolled back after a failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..volumes.sparse import SparseVolume
from .history import INTERACTIONS, TARGET, History, RegionDiff, Step, diff_region
from .regions import Bbox, clip_bbox, to_local, to_slices
from .store import InteractionStore

#: What predictions are written into: a torch view of the user's buffer, or a sparse volume.
Target = torch.Tensor | SparseVolume


def as_target_tensor(buffer: np.ndarray | torch.Tensor | SparseVolume) -> Target:
    """A torch view sharing memory with a numpy or torch target buffer; a sparse one as is."""
    if isinstance(buffer, torch.Tensor | SparseVolume):
        return buffer
    return torch.from_numpy(buffer)


def zero_target(target: Target) -> None:
    """Set every voxel of a target buffer to 0."""
    if isinstance(target, SparseVolume):
        target.clear()
    else:
        target.zero_()


class SegmentationState:
    """Interaction channels, the target buffer, and the history of their changes.

    Parameters
    ----------
    store
        The interaction channels.
    prev_channel
        Index of the previous-segmentation channel.
    history
        Where changes are recorded.
    """

    def __init__(self, store: InteractionStore, prev_channel: int, history: History):
        self.store = store
        self.prev_channel = prev_channel
        self.history = history
        self.target: Target | None = None

    def _record(
        self,
        kind: str,
        channel: int | None,
        region: Bbox,
        before: torch.Tensor,
        after: torch.Tensor,
    ) -> None:
        if self.history.open_step is not None:
            self.history.record(diff_region(kind, channel, region, before, after))

    def write_channel(self, channel: int, region: Bbox, values: torch.Tensor) -> None:
        """Assign float16 ``values`` to ``channel`` over ``region`` (inside the image)."""
        if self.history.open_step is not None:
            before = self.store.read(channel, region)
            self._record(INTERACTIONS, channel, region, before, values.to(before.dtype).cpu())
        self.store.write(channel, region, values)

    def max_channel(self, channel: int, region: Bbox, values: torch.Tensor) -> None:
        """Element-wise maximum of ``channel`` and ``values`` over ``region`` (inside the image)."""
        before = self.store.read(channel, region)
        after = torch.maximum(before, values.to(before.dtype).cpu())
        self._record(INTERACTIONS, channel, region, before, after)
        self.store.write(channel, region, after)

    def scale_channels(self, channels: Sequence[int], factor: float) -> None:
        """Multiply whole channels by ``factor`` (decay rescaling), recording the change."""
        if self.history.open_step is None:
            self.store.scale_channels(channels, factor)
            return
        for channel in channels:
            for region in self.store.tile_regions(channel):
                before = self.store.read(channel, region)
                after = before * factor
                self._record(INTERACTIONS, channel, region, before, after)
                self.store.write(channel, region, after)

    def write_target(self, bbox: Bbox, values: torch.Tensor) -> None:
        """Write ``values`` (the size of ``bbox``) into the part of ``bbox`` inside the target."""
        if self.target is None:
            return
        inside = clip_bbox(bbox, self.target.shape)
        if inside is None:
            return
        local = values[to_slices(to_local(inside, bbox))]
        if isinstance(self.target, SparseVolume):  # read the box, write it back
            before = torch.from_numpy(self.target[to_slices(inside)])
            after = local.to(device="cpu", dtype=before.dtype)
            self._record(TARGET, None, inside, before, after)
            self.target[to_slices(inside)] = after.numpy()
            return
        view = self.target[to_slices(inside)]
        after = local.to(device=view.device, dtype=view.dtype)
        if self.history.open_step is not None:
            self._record(TARGET, None, inside, view, after)
        view.copy_(after)

    def write_sparse_segmentation(self, seg: SparseVolume) -> None:
        """Write a whole-image segmentation held sparsely into the previous-segmentation channel
        (zero beforehand: call :meth:`clear_interactions` first) and the target buffer, chunk by
        chunk: only chunks nonzero in ``seg`` or in a sparse target are visited."""
        for box, values in seg.iter_chunks():
            self.write_channel(self.prev_channel, box, torch.from_numpy(values.astype(np.float16)))
        if self.target is None:
            return
        if not isinstance(self.target, SparseVolume):  # a dense buffer: one dense write
            self.write_target([[0, s] for s in seg.shape], torch.from_numpy(np.asarray(seg)))
            return
        chunks = {tuple(map(tuple, box)) for box, _ in seg.iter_chunks()}
        chunks.update(tuple(map(tuple, box)) for box, _ in self.target.iter_chunks())
        for chunk in sorted(chunks):
            region = [list(pair) for pair in chunk]
            self.write_target(region, torch.from_numpy(seg[to_slices(region)]))

    def write_segmentation(self, bbox: Bbox, values: torch.Tensor) -> None:
        """Write a 0/1 prediction (the size of ``bbox``) into the previous-segmentation channel and
        the target buffer, clipped to the image."""
        inside = clip_bbox(bbox, self.store.spatial_shape)
        if inside is None:
            return
        local = values[to_slices(to_local(inside, bbox))]
        self.write_channel(self.prev_channel, inside, local.to(torch.float16))
        self.write_target(bbox, values)

    def clear_interactions(self) -> None:
        """Zero every interaction channel, recording the cleared voxels."""
        if self.history.open_step is not None:
            for channel in range(self.store.num_channels):
                for region in self.store.tile_regions(channel):
                    before = self.store.read(channel, region)
                    self._record(INTERACTIONS, channel, region, before, torch.zeros_like(before))
        self.store.clear()

    def apply(self, step: Step, forward: bool) -> None:
        """Replay a step's diffs (``forward``) or revert them (newest first)."""
        diffs = step.diffs if forward else list(reversed(step.diffs))
        for diff in diffs:
            self._apply_diff(diff, diff.after if forward else diff.before)

    def _apply_diff(self, diff: RegionDiff, values: torch.Tensor) -> None:
        positions = diff.positions()
        if diff.kind == TARGET:
            if self.target is None:
                return
            if isinstance(self.target, SparseVolume):
                box = torch.from_numpy(self.target[to_slices(diff.region)])
                box[positions] = values.to(box.dtype)
                self.target[to_slices(diff.region)] = box.numpy()
                return
            view = self.target[to_slices(diff.region)]
            view[tuple(p.to(view.device) for p in positions)] = values.to(view.device, view.dtype)
            return
        if diff.channel is None:
            raise ValueError(f"an {diff.kind!r} diff needs its interaction channel; got None")
        region = self.store.read(diff.channel, diff.region)
        region[positions] = values.to(region.dtype)
        self.store.write(diff.channel, diff.region, region)
