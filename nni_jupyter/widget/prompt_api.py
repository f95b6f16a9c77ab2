"""The Segmenter's Python prompt API: points, boxes, scribbles, lassos and masks.

:class:`PromptsMixin` holds these methods of :class:`~.segmenter.Segmenter`. Each builds a
:class:`~.prompts.Prompt` and submits it on the same path as a browser gesture, then brings the
prompt's slice into view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .inputs import vertex_pairs
from .prompts import Command, MaskCrop, Prompt, Tool, prompt_focus


class PromptsMixin:
    """``add_point``, ``add_box``, ``add_scribble``, ``add_lasso`` and ``add_mask``."""

    if TYPE_CHECKING:  # what the Segmenter provides
        shape: list[int]
        axis: int
        slice_index: list[int]

        def _submit(self, item: Prompt | Command, wait: bool, outcome: bool = False) -> Any: ...

    def add_point(self, point: Any, positive: bool = True, *, wait: bool = True) -> Any:
        """Prompt with a point ``(x, y, z)`` in voxel coordinates."""
        return self._prompt(Prompt("point", positive, point=tuple(point)), wait)

    def add_box(
        self,
        box: Any,
        positive: bool = True,
        *,
        axis: int | None = None,
        index: int | None = None,
        wait: bool = True,
    ) -> Any:
        """Prompt with a box.

        ``box`` is a half-open volume box ``[[x0, x1], [y0, y1], [z0, z1]]`` (one axis of size 1
        for the v1.0 model), or with ``axis`` and ``index`` two in-plane corners
        ``[(p0, q0), (p1, q1)]`` on that slice (voxels ``round(min)..round(max)`` inclusive, as a
        browser box).
        """
        if axis is None:
            return self._prompt(Prompt("box", positive, bbox=box), wait)
        return self._prompt(
            Prompt("box", positive, axis=axis, index=index, vertices=vertex_pairs(box)), wait
        )

    def add_scribble(
        self,
        stroke: Any,
        positive: bool = True,
        *,
        axis: int | None = None,
        index: int | None = None,
        wait: bool = True,
    ) -> Any:
        """Prompt with a scribble.

        ``stroke`` is a full-volume 0/1 mask ``[X, Y, Z]`` (the stroke, usually on one slice), or
        with ``axis`` and ``index`` a polyline ``[(p, q), ...]`` on that slice, drawn with
        ``scribble_thickness`` as a browser scribble is.
        """
        return self._prompt(self._mask_prompt("scribble", stroke, positive, axis, index), wait)

    def add_lasso(
        self,
        outline: Any,
        positive: bool = True,
        *,
        axis: int | None = None,
        index: int | None = None,
        wait: bool = True,
    ) -> Any:
        """Prompt with a lasso.

        ``outline`` is a full-volume *filled* 0/1 mask ``[X, Y, Z]``, or with ``axis`` and
        ``index`` a closed polygon ``[(p, q), ...]`` on that slice (voxel centres inside are
        filled).
        """
        return self._prompt(self._mask_prompt("lasso", outline, positive, axis, index), wait)

    def add_mask(self, mask: Any, refine: bool = False, *, wait: bool = True) -> Any:
        """Replace the active object's mask with ``mask`` ``[X, Y, Z]`` (nonzero = inside).

        Later prompts continue from it; ``refine=True`` lets the model refine it first.
        """
        return self._prompt(Prompt("mask", mask=MaskCrop.from_volume(mask), refine=refine), wait)

    @staticmethod
    def _mask_prompt(tool: Tool, value: Any, positive: bool, axis: Any, index: Any) -> Prompt:
        if axis is None:
            return Prompt(tool, positive, mask=MaskCrop.from_volume(value))
        return Prompt(tool, positive, axis=axis, index=index, vertices=vertex_pairs(value))

    def _prompt(self, prompt: Prompt, wait: bool) -> Any:
        """Submit a prompt made in Python and bring its slice into view, as if drawn there."""
        result = self._submit(prompt, wait)
        plane, where = prompt_focus(prompt)
        index = list(self.slice_index)
        for axis, value in where.items():
            index[axis] = min(max(int(value), 0), self.shape[axis] - 1)
        self.slice_index = index
        if plane is not None:
            self.axis = plane
        return result
