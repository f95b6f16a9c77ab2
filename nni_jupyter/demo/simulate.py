"""Simulated users for training: prompts, imperfect previous masks and AutoZoom context sizes.

One training example is one prediction the inference would make: an object, the prompts a user
gave so far (older ones decayed), the previous segmentation the session holds, the newest prompt,
and the window (centre and zoom) the inference would run the network on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..data import ORGAN_LABELS, phantom
from ..evaluation import geometry
from ..inference.autozoom import MAX_ZOOM, extreme_filter, initial_zoom, next_zoom
from ..inference.regions import centered_bbox, nonzero_bbox
from . import encoding as enc

AUTOZOOM_STEPS = (1.5, 2.25, 3.375, 4.0)
_MARGIN = 12  # voxels around an object that perturbations may reach


@dataclass
class TrainingVolume:
    """A phantom prepared for sampling: z-scored image, object map and object list."""

    image: torch.Tensor  # [X, Y, Z] float32, z-scored like the inference does
    components: np.ndarray  # [X, Y, Z] int32, one id per object, 0 elsewhere
    objects: list[tuple[int, int, list[list[int]]]]  # (component id, label, bbox)


def prepare_volume(seed: int, shape: tuple[int, int, int], min_voxels: int = 20) -> TrainingVolume:
    """Render phantom ``seed`` and split its organ labels into connected objects."""
    image, labels = phantom(shape, seed)
    return split_objects(image, labels, ORGAN_LABELS, min_voxels)


def split_objects(
    image: np.ndarray, labels: np.ndarray, values: Iterable[int] | None = None, min_voxels: int = 20
) -> TrainingVolume:
    """Z-score ``image`` and split each label of ``values`` (default: every non-zero label) into
    face-connected objects of at least ``min_voxels``."""
    image_t = torch.from_numpy(image.astype(np.float32))
    image_t = (image_t - image_t.mean()) / image_t.std()
    components = np.zeros(labels.shape, dtype=np.int32)
    objects: list[tuple[int, int, list[list[int]]]] = []
    wanted = set(np.unique(labels[labels > 0]).tolist() if values is None else values)
    structure = ndimage.generate_binary_structure(3, 1)
    for label, region in enumerate(ndimage.find_objects(labels), start=1):
        if region is None or label not in wanted:
            continue
        parts, count = ndimage.label(labels[region] == label, structure=structure)
        sizes = np.bincount(parts.ravel(), minlength=count + 1)
        for k, part in enumerate(ndimage.find_objects(parts), start=1):
            if part is None or sizes[k] < min_voxels:
                continue
            oid = len(objects) + 1
            components[region][parts == k] = oid
            bbox = [
                [r.start + p.start, r.start + p.stop] for r, p in zip(region, part, strict=True)
            ]
            objects.append((oid, label, bbox))
    return TrainingVolume(image_t, components, objects)


@dataclass
class SimulatedPrompt:
    """One simulated prompt, already rasterised into its channel (full-volume coordinates)."""

    channel: int
    centre: tuple[int, int, int]
    extent: list[int]  # size of the prompt's bbox per axis (1 for points)
    point: tuple[int, int, int] | None = None
    region: tuple[tuple[slice, ...], np.ndarray] | None = None  # (slices, values) to max-write


class UserSimulator:
    """Draws training examples ``(input [8, P, P, P], target [P, P, P])`` from a volume.

    Parameters
    ----------
    rng
        Source of every random choice.
    patch_size
        Network patch edge in voxels.
    decay
        Weight factor per prompt of age (the inference's ``interaction_decay``).
    large_object_share
        Share of examples drawn from objects wider than 60% of the patch (liver, great vessels),
        which a uniform draw over labels visits too rarely to learn.
    object_share
        Share of examples drawn uniformly over objects instead of over labels, so a structure
        made of many small parts (the vertebrae) is met about as often as a user meets it.
    initial_share
        Share of examples that are a first prompt on an empty segmentation (the rest correct a
        previous one).
    point_share
        Share of first prompts that are a point (the rest are boxes, lassos and scribbles in the
        ratio 5 : 4 : 4).
    own_prediction_share
        Share of correction examples whose previous segmentation is the network's own prediction
        from the first prompt (set ``predictor``), as nnInteractive trains: the model learns to
        fix the mistakes it actually makes, not only simulated ones.
    predictor
        ``[8, P, P, P]`` input -> ``[P, P, P]`` boolean foreground of the network being trained;
        None (the default) until the network is worth asking.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        patch_size: int,
        decay: float = 0.98,
        large_object_share: float = 0.0,
        object_share: float = 0.0,
        own_prediction_share: float = 0.0,
        initial_share: float = 0.5,
        point_share: float = 0.35,
    ):
        self.rng = rng
        self.patch_size = patch_size
        self.decay = decay
        self.large_object_share = large_object_share
        self.object_share = object_share
        self.own_prediction_share = own_prediction_share
        self.initial_share = initial_share
        rest = (1.0 - point_share) / 0.65
        self.first_prompt_odds = [point_share, 0.25 * rest, 0.2 * rest, 0.2 * rest]
        self.predictor: Callable[[torch.Tensor], np.ndarray] | None = None

    # --- one example ---------------------------------------------------------------------------

    def sample(self, volume: TrainingVolume) -> tuple[torch.Tensor, torch.Tensor]:
        """One augmented training example from ``volume``."""
        rng = self.rng
        oid, _, box = self._pick_object(volume)
        crop = tuple(
            slice(max(lo - _MARGIN, 0), min(hi + _MARGIN, n))
            for (lo, hi), n in zip(box, volume.components.shape, strict=True)
        )
        target = volume.components == oid
        interactions = torch.zeros((enc.NUM_INTERACTION_CHANNELS, *target.shape))
        prompts = [self._initial_prompt(target, box)]
        is_initial = rng.random() < self.initial_share
        if not is_initial:
            prev = None
            if self.predictor is not None and rng.random() < self.own_prediction_share:
                prev = self._own_prediction(volume, target, box, prompts[0])
            if prev is None:
                prompts += [self._consistent_point(target, crop) for _ in range(rng.integers(0, 3))]
                prev = self._imperfect_mask(target, crop, volume.components[crop], oid)
            interactions[enc.PREV_SEG].copy_(torch.from_numpy(prev))
            prompts.append(self._corrective_prompt(target, prev, crop))
        for age, prompt in enumerate(reversed(prompts)):
            self._write(interactions, prompt, self.decay**age)
        centre, zoom = self._window(prompts[-1], box, is_initial)
        x, y = enc.build_window(
            volume.image, interactions, torch.from_numpy(target), centre, zoom, self.patch_size
        )
        return self._augment(x, y)

    def _pick_object(self, volume: TrainingVolume) -> tuple[int, int, list[list[int]]]:
        draw = self.rng.random()
        if draw < self.large_object_share:
            large = [
                o for o in volume.objects if max(hi - lo for lo, hi in o[2]) > 0.6 * self.patch_size
            ]
            if large:
                return large[self.rng.integers(len(large))]
        elif draw < self.large_object_share + self.object_share:
            return volume.objects[self.rng.integers(len(volume.objects))]
        # uniform over labels first, so the many vertebrae do not crowd out the organs
        labels = sorted({label for _, label, _ in volume.objects})
        label = labels[self.rng.integers(len(labels))]
        candidates = [o for o in volume.objects if o[1] == label]
        return candidates[self.rng.integers(len(candidates))]

    # --- prompts -------------------------------------------------------------------------------

    def _initial_prompt(self, target: np.ndarray, box: list[list[int]]) -> SimulatedPrompt:
        kind = self.rng.choice(["point", "box", "lasso", "scribble"], p=self.first_prompt_odds)
        if kind == "point":
            return self._point_in(target, box, enc.POINT_POS)
        return self._slice_prompt(kind, target, positive=True)

    def _point_in(self, mask: np.ndarray, box: list[list[int]], channel: int) -> SimulatedPrompt:
        crop = tuple(slice(lo, hi) for lo, hi in box)
        local = mask[crop]
        if self.rng.random() < 0.3:
            point = geometry.interior_centre(local)
        else:
            inner = _erode(local, int(self.rng.integers(0, 4)))
            voxels = np.argwhere(inner if inner.any() else local)
            point = tuple(voxels[self.rng.integers(len(voxels))])
        voxel = _voxel(p + lo for p, (lo, _) in zip(point, box, strict=True))
        return SimulatedPrompt(channel, voxel, [1, 1, 1], point=voxel)

    def _pick_slice(self, mask: np.ndarray) -> tuple[int, int]:
        """The largest slice (as the evaluation does) or any slice of at least 30% of its area."""
        if self.rng.random() < 0.3:
            return geometry.largest_slice(mask)
        axis = int(self.rng.integers(3))
        areas = mask.sum(axis=tuple(a for a in range(3) if a != axis))
        candidates = np.flatnonzero(areas >= 0.3 * areas.max())
        return axis, int(candidates[self.rng.integers(len(candidates))])

    def _slice_prompt(self, kind: str, mask: np.ndarray, positive: bool) -> SimulatedPrompt:
        axis, index = self._pick_slice(mask)
        plane = geometry.take_slice(mask, axis, index)
        if kind == "box":
            lo_hi = nonzero_bbox(plane)
            assert lo_hi is not None, "_pick_slice picks a slice holding the object"
            grow = self.rng.integers(-1, 4, size=(2, 2))
            drawn = np.zeros(plane.shape, dtype=bool)
            rows = slice(
                max(lo_hi[0][0] - grow[0, 0], 0), min(lo_hi[0][1] + grow[0, 1], plane.shape[0])
            )
            cols = slice(
                max(lo_hi[1][0] - grow[1, 0], 0), min(lo_hi[1][1] + grow[1, 1], plane.shape[1])
            )
            drawn[rows, cols] = True
            if not drawn.any():
                drawn = plane
            channel = enc.BBOX_POS if positive else enc.BBOX_NEG
        elif kind == "lasso":
            drawn = geometry.lasso_mask(
                plane, int(self.rng.integers(8, 33)), float(self.rng.uniform(0, 1.5)), self.rng
            )
            channel = enc.BBOX_POS if positive else enc.BBOX_NEG
        else:
            deterministic = self.rng.random() < 0.3
            drawn = geometry.scribble_mask(
                plane, 2, int(self.rng.integers(2, 7)), None if deterministic else self.rng
            )
            channel = enc.SCRIBBLE_POS if positive else enc.SCRIBBLE_NEG
        return _plane_prompt(channel, mask.shape, axis, index, drawn)

    def _consistent_point(self, target: np.ndarray, crop: tuple[slice, ...]) -> SimulatedPrompt:
        """An older correction that agrees with the truth: inside, or just outside, the object."""
        local = target[crop]
        offset = [s.start for s in crop]
        if self.rng.random() < 0.6:
            region, channel = local, enc.POINT_POS
        else:
            region, channel = _dilate(local, 3) & ~local, enc.POINT_NEG
        voxels = np.argwhere(region)
        point = _voxel(
            v + o for v, o in zip(voxels[self.rng.integers(len(voxels))], offset, strict=True)
        )
        return SimulatedPrompt(channel, point, [1, 1, 1], point=point)

    def _corrective_prompt(
        self, target: np.ndarray, prev: np.ndarray, crop: tuple[slice, ...]
    ) -> SimulatedPrompt:
        """A click (or stroke) in an error region: positive in a miss, negative in a leak."""
        local_t, local_p = target[crop], prev[crop]
        missed, leaked = local_t & ~local_p, local_p & ~local_t
        if not missed.any() and not leaked.any():
            box = [[s.start, s.stop] for s in crop]
            return self._point_in(target, box, enc.POINT_POS)
        n_missed, n_leaked = missed.sum(), leaked.sum()
        positive = self.rng.random() < n_missed / (n_missed + n_leaked)
        error = missed if positive else leaked
        if self.rng.random() < 0.5:
            error = geometry.largest_component(error)
            voxel = geometry.interior_centre(error)
        else:
            inner = _erode(error, 1)
            voxels = np.argwhere(inner if inner.any() else error)
            voxel = tuple(voxels[self.rng.integers(len(voxels))])
        offset = [s.start for s in crop]
        point = _voxel(v + o for v, o in zip(voxel, offset, strict=True))
        kind = self.rng.choice(["point", "scribble", "lasso"], p=[0.7, 0.2, 0.1])
        if kind == "point" or (kind == "lasso" and not positive):
            channel = enc.POINT_POS if positive else enc.POINT_NEG
            return SimulatedPrompt(channel, point, [1, 1, 1], point=point)
        full_error = np.zeros(target.shape, dtype=bool)
        full_error[crop] = error
        axis = int(self.rng.integers(3))
        plane = geometry.take_slice(full_error, axis, point[axis])
        if kind == "lasso":
            drawn = geometry.lasso_mask(plane, 16, float(self.rng.uniform(0, 1.0)), self.rng)
            return _plane_prompt(enc.BBOX_POS, target.shape, axis, point[axis], drawn)
        drawn = geometry.scribble_mask(plane, 2, int(self.rng.integers(2, 5)), self.rng)
        channel = enc.SCRIBBLE_POS if positive else enc.SCRIBBLE_NEG
        return _plane_prompt(
            channel, target.shape, axis, point[axis], drawn | _dot(plane.shape, point, axis)
        )

    # --- previous segmentation -----------------------------------------------------------------

    def _imperfect_mask(
        self, target: np.ndarray, crop: tuple[slice, ...], components: np.ndarray, oid: int
    ) -> np.ndarray:
        """The truth spoiled the ways a previous prediction goes wrong."""
        rng = self.rng
        local = target[crop].copy()
        kinds = ["merge", "cut", "coarse", "dilate", "erode", "leak", "hole", "empty"]
        weights = np.array([0.25, 0.2, 0.15, 0.12, 0.12, 0.08, 0.04, 0.04])
        chosen = list(rng.choice(kinds, size=rng.integers(1, 3), replace=False, p=weights))
        if "merge" in chosen:  # first, so the other spoilers act on the merged mask
            chosen.remove("merge")
            local = self._merge_neighbour(local, components, oid)
        for kind in chosen:
            local = self._perturb(kind, local)
        prev = np.zeros(target.shape, dtype=bool)
        prev[crop] = local
        return prev

    def _merge_neighbour(self, mask: np.ndarray, components: np.ndarray, oid: int) -> np.ndarray:
        """Add a touching neighbour object, whole or near the contact: the leak a negative
        click has to undo, since the image alone may not tell the two apart."""
        near = _dilate(mask, 4) & (components != oid) & (components > 0)
        ids = np.unique(components[near])
        if len(ids) == 0:
            return mask
        other = components == ids[self.rng.integers(len(ids))]
        if self.rng.random() < 0.5:
            contacts = np.argwhere(other & near)
            anchor = contacts[self.rng.integers(len(contacts))]
            grid = np.indices(mask.shape).reshape(3, -1).T
            radius = self.rng.uniform(5, 15)
            other &= (((grid - anchor) ** 2).sum(1) <= radius**2).reshape(mask.shape)
        return mask | other

    def _perturb(self, kind: str, mask: np.ndarray) -> np.ndarray:
        rng = self.rng
        if kind == "empty" or not mask.any():
            return np.zeros_like(mask)
        if kind == "dilate":
            return _dilate(mask, int(rng.integers(1, 4)))
        if kind == "erode":
            return _erode(mask, int(rng.integers(1, 3)))
        if kind == "coarse":
            factor = float(rng.choice(AUTOZOOM_STEPS))
            t = torch.from_numpy(mask.astype(np.float32))[None, None]
            small = [max(1, round(n / factor)) for n in mask.shape]
            down = F.interpolate(t, small, mode="area")
            return (F.interpolate(down, mask.shape, mode="trilinear")[0, 0] >= 0.5).numpy()
        edge = mask & ~_erode(mask, 1) if kind == "leak" else mask
        voxels = np.argwhere(edge if edge.any() else mask)
        anchor = voxels[rng.integers(len(voxels))]
        grid = np.indices(mask.shape).reshape(3, -1).T
        if kind == "cut":
            # what a window stopping short of the object, or a plane through it, leaves behind
            normal = rng.normal(size=3)
            keep = (grid - anchor) @ normal <= rng.uniform(0, 10) * np.linalg.norm(normal)
            return mask & keep.reshape(mask.shape)
        radius = rng.uniform(3, 9)
        ball = (((grid - anchor) ** 2).sum(1) <= radius**2).reshape(mask.shape)
        if kind == "leak":
            return mask | ball
        return mask & ~ball  # hole

    def _own_prediction(
        self,
        volume: TrainingVolume,
        target: np.ndarray,
        box: list[list[int]],
        first: SimulatedPrompt,
    ) -> np.ndarray | None:
        """The network's own answer to the first prompt, pasted into the volume (zoom 1 window
        around the prompt); None for objects too wide for one patch, which AutoZoom would zoom
        out for."""
        p = self.patch_size
        if self.predictor is None or max(hi - lo for lo, hi in box) > 0.8 * p:
            return None
        interactions = torch.zeros((enc.NUM_INTERACTION_CHANNELS, *target.shape))
        self._write(interactions, first, 1.0)
        x, _ = enc.build_window(
            volume.image, interactions, torch.from_numpy(target), first.centre, 1.0, p
        )
        foreground = self.predictor(x)
        window = centered_bbox(first.centre, [p] * 3)
        shape = target.shape
        inside = [[max(lo, 0), min(hi, n)] for (lo, hi), n in zip(window, shape, strict=True)]
        prev = np.zeros(target.shape, dtype=bool)
        prev[tuple(slice(lo, hi) for lo, hi in inside)] = foreground[
            tuple(slice(lo - w, hi - w) for (lo, hi), (w, _) in zip(inside, window, strict=True))
        ]
        return prev

    # --- window --------------------------------------------------------------------------------

    def _window(
        self, prompt: SimulatedPrompt, box: list[list[int]], is_initial: bool
    ) -> tuple[tuple[int, int, int], float]:
        """Centre and zoom of the prediction this prompt triggers (initial, zoomed, refinement)."""
        rng, p = self.rng, self.patch_size
        start = initial_zoom(prompt.extent, [p] * 3)
        extent = max(hi - lo for lo, hi in box)
        centre = prompt.centre
        if not is_initial and rng.random() < 0.6:
            # a refinement patch after a zoomed-out prediction: zoom 1, somewhere near the prompt
            jitter = rng.integers(-p // 3, p // 3 + 1, size=3) if rng.random() < 0.6 else 0
            return _voxel(np.asarray(centre) + jitter), 1.0
        zoom = start
        zoom_out_odds = 0.4 if extent > 0.6 * p else 0.1
        while zoom < MAX_ZOOM and rng.random() < zoom_out_odds:
            zoom = next_zoom(zoom)
        return centre, zoom

    # --- helpers -------------------------------------------------------------------------------

    def _write(self, interactions: torch.Tensor, prompt: SimulatedPrompt, weight: float) -> None:
        if prompt.point is not None:
            enc.stamp_point(interactions[prompt.channel], prompt.point, weight)
            return
        assert prompt.region is not None, "a simulated prompt holds a point or a region"
        slices, values = prompt.region
        region = interactions[prompt.channel][slices]
        torch.maximum(region, torch.from_numpy(values.astype(np.float32)) * weight, out=region)

    def _augment(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # left-right mirroring and contrast only: the phantoms' orientation is fixed, and a small
        # model trained briefly learns faster on the orientation it is used in
        if self.rng.random() < 0.5:
            x, y = x.flip(1), y.flip(0)
        x = x.contiguous()
        x[0] *= float(self.rng.uniform(0.9, 1.1))
        return x, y.contiguous()


def _plane_prompt(channel: int, shape, axis: int, index: int, drawn: np.ndarray) -> SimulatedPrompt:
    """A prompt drawn on slice ``index`` along ``axis``, stored as its bbox crop."""
    box2d = nonzero_bbox(drawn)
    if box2d is None:
        raise ValueError("a drawn prompt must cover at least one pixel")
    in_plane = [a for a in range(3) if a != axis]
    slices = [slice(None)] * 3
    slices[axis] = slice(index, index + 1)
    extent = [1, 1, 1]
    for a, (lo, hi) in zip(in_plane, box2d, strict=True):
        slices[a] = slice(lo, hi)
        extent[a] = hi - lo
    values = np.expand_dims(drawn[box2d[0][0] : box2d[0][1], box2d[1][0] : box2d[1][1]], axis)
    centre = [0, 0, 0]
    centre[axis] = index
    for a, (lo, hi) in zip(in_plane, box2d, strict=True):
        centre[a] = round((lo + hi) / 2)
    return SimulatedPrompt(channel, _voxel(centre), extent, region=(tuple(slices), values))


def _voxel(coordinates: Iterable[Any]) -> tuple[int, int, int]:
    """``(x, y, z)`` as Python ints."""
    x, y, z = (int(c) for c in coordinates)
    return x, y, z


def _dot(shape2d, point, axis: int) -> np.ndarray:
    """The pixel of ``point`` in the slice along ``axis`` (keeps a stroke from coming out empty)."""
    out = np.zeros(shape2d, dtype=bool)
    out[tuple(p for a, p in enumerate(point) if a != axis)] = True
    return out


def _pool(mask: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    if radius <= 0:
        return mask.copy()
    t = torch.from_numpy(mask.astype(np.float32))
    if not grow:
        t = 1 - t
    pooled = extreme_filter(t, 2 * radius + 1)
    if not grow:
        pooled = 1 - pooled
    return pooled.numpy() > 0.5


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return _pool(mask, radius, grow=True)


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return _pool(mask, radius, grow=False)
