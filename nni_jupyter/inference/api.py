"""The session API that the widget drives: nnInteractive's public session methods.

nni_jupyter's :class:`~nni_jupyter.inference.InferenceSession`, the reference
``nnInteractiveInferenceSession`` and :class:`~nni_jupyter.remote.RemoteSession` all have it.
What only some backends have (``initialize_from_trained_model_folder``, ``device``, ``network``,
``license``, ``refinement_rng``, ``supported_interactions``, ``preferred_scribble_thickness``) is
read with ``getattr`` where it is used, so it is not part of the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..volumes.sparse import SparseVolume

#: The half-open bbox ``[[x0, x1], [y0, y1], [z0, z1]]`` a prompt changed; None when the backend
#: does not say (the reference) or nothing was predicted.
ChangedBbox = Sequence[Sequence[int]] | None


class Session(Protocol):
    """An inference session with nnInteractive's API, as the widget calls it."""

    def set_image(self, image: np.ndarray, image_properties: dict[str, Any] | None = None) -> None:
        """Set the image ``[1, X, Y, Z]``; clears prompts and the target buffer."""

    def set_target_buffer(self, target_buffer: np.ndarray | SparseVolume) -> None:
        """Set the ``[X, Y, Z]`` array predictions are written into (a SparseVolume only when
        the session says ``accepts_sparse``)."""

    def reset_interactions(self) -> None:
        """Forget every prompt and zero the target buffer."""

    def add_point_interaction(
        self, coordinates: Sequence[float], include_interaction: bool
    ) -> ChangedBbox:
        """Point prompt at voxel ``(x, y, z)``."""

    def add_bbox_interaction(
        self, bbox_coords: Sequence[Sequence[int]], include_interaction: bool
    ) -> ChangedBbox:
        """Half-open box prompt."""

    def add_scribble_interaction(
        self,
        scribble_image: np.ndarray,
        include_interaction: bool,
        *,
        interaction_bbox: Sequence[Sequence[int]] | None = None,
    ) -> ChangedBbox:
        """Scribble prompt: a 0/1 mask, full-volume or a crop placed at ``interaction_bbox``."""

    def add_lasso_interaction(
        self,
        lasso_image: np.ndarray,
        include_interaction: bool,
        *,
        interaction_bbox: Sequence[Sequence[int]] | None = None,
    ) -> ChangedBbox:
        """Lasso prompt: a filled 0/1 mask, full-volume or a crop placed at ``interaction_bbox``."""

    def add_initial_seg_interaction(
        self, initial_seg: np.ndarray | SparseVolume, *, run_prediction: bool = False
    ) -> ChangedBbox:
        """Start from an existing 0/1 segmentation (a SparseVolume only when the session says
        ``accepts_sparse``); refine it with ``run_prediction``."""
