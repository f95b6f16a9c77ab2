"""One prediction: AutoZoom out from the prompt, then write the result or refine it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import devices, timing
from .autozoom import MAX_ZOOM, InputBuilder, border_changed, next_zoom, predict
from .refine import (
    RefinementPlan,
    diff_region,
    plan_boxes,
    refine_boxes,
    upsample_prediction,
)
from .regions import Bbox, clip_bbox, to_local, to_slices, union_bboxes
from .state import SegmentationState


@dataclass
class PredictionRun:
    """Runs the network around a prompt and writes the result into the segmentation state.

    Attributes
    ----------
    builder
        Makes network inputs from the image and the interaction channels.
    network
        The loaded network.
    state
        Receives the prediction (previous-segmentation channel and target buffer).
    device
        Compute device.
    rng
        Random source of the refinement cover's fallback (None: numpy's global generator).
    verbose
        Print the zoom steps.
    """

    builder: InputBuilder
    network: torch.nn.Module
    state: SegmentationState
    device: torch.device
    rng: Any = None
    verbose: bool = False

    def predict(
        self, center: list[int], zoom: float, autozoom: bool, force_full_refine: bool = False
    ) -> Bbox:
        """Predict around ``center`` starting at ``zoom``; return the bbox written (unclipped).

        With ``autozoom`` the window grows by 1.5x (up to 4x) while the border test fires. At
        zoom 1 the prediction is written as it is; otherwise it is refined patch by patch.
        """
        zoom = min(MAX_ZOOM, zoom)
        with devices.inference(self.device):
            with timing.span("input"):
                net_input = self.builder.build(center, zoom)
            with timing.span("forward"):
                prediction = predict(self.network, net_input.tensor)
            changed = False
            if autozoom:  # the border test only decides whether to zoom out
                with timing.span("border test"):
                    changed = border_changed(prediction, net_input.previous)
            while changed and zoom < MAX_ZOOM:
                zoom = next_zoom(zoom)
                if self.verbose:
                    print(f"AutoZoom: zooming out to {zoom}")
                with timing.span("autozoom input"):
                    net_input = self.builder.build(center, zoom)
                with timing.span("autozoom forward"):
                    prediction = predict(self.network, net_input.tensor)
                with timing.span("border test"):
                    changed = border_changed(prediction, net_input.previous)
            if zoom == 1:
                with timing.span("paste-back"):
                    self.state.write_segmentation(net_input.window, prediction)
                return net_input.window
            return self._refine(prediction, net_input.window, center, force_full_refine)

    def _refine(
        self, prediction: torch.Tensor, window: Bbox, center: list[int], force_full_refine: bool
    ) -> Bbox:
        """Refine a zoomed-out prediction patch by patch; return the hull of the refined boxes."""
        with timing.span("refine plan"):
            coarse = upsample_prediction(prediction, [hi - lo for lo, hi in window])
            plan = self._plan(coarse, window, center, force_full_refine)
        working = refine_boxes(plan, coarse, window, self.builder, self.network)
        hull = plan.hull
        with timing.span("paste-back"):
            for box in plan.boxes:
                self.state.write_segmentation(box, working[to_slices(to_local(box, hull))])
        return hull

    def _plan(
        self, coarse: torch.Tensor, window: Bbox, center: list[int], force_full_refine: bool
    ) -> RefinementPlan:
        """Boxes covering where the coarse prediction changed the segmentation."""
        state, shape = self.state, self.state.store.spatial_shape
        patch = self.builder.patch_size
        planning = clip_bbox(window, shape)
        if force_full_refine:
            planning = union_bboxes([planning, state.store.channel_bbox(state.prev_channel)])
        if planning is None:
            empty = torch.zeros(1, 1, 1, dtype=torch.uint8)
            return plan_boxes(empty, [[0, 1]] * 3, patch, center)
        diff = diff_region(
            coarse,
            window,
            lambda region: state.store.read(state.prev_channel, region),
            planning,
            shape,
        )
        if force_full_refine:
            previous = state.store.read(state.prev_channel, planning).to(diff.device)
            diff[previous > 0.5] = 1
        return plan_boxes(diff, planning, patch, center, rng=self.rng)
