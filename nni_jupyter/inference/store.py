"""Sparse, tiled storage of the interaction channels.

The reference keeps a dense ``float16 [C, X, Y, Z]`` tensor (14 bytes per voxel for 7 channels).
Prompts and segmentations are local, so almost all of it stays zero: here each channel is cut into
cubic tiles that are only allocated once something nonzero is written into them. Reading a region
returns exactly what the dense tensor would hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import torch

from .regions import Bbox, clip_bbox, to_slices

TILE_SIZE = 64
STORE_DTYPE = torch.float16


class InteractionStore:
    """Interaction channels ``[C, X, Y, Z]`` in float16, allocated tile by tile.

    Parameters
    ----------
    num_channels
        Number of interaction channels (previous segmentation included).
    spatial_shape
        ``(X, Y, Z)`` of the image.
    tile_size
        Edge length of the cubic tiles, in voxels.
    """

    def __init__(self, num_channels: int, spatial_shape: Sequence[int], tile_size: int = TILE_SIZE):
        self.num_channels = int(num_channels)
        self.spatial_shape = tuple(int(s) for s in spatial_shape)
        self.tile_size = int(tile_size)
        # keyed by (channel, tile index along x, y, z)
        self._tiles: dict[tuple[int, ...], torch.Tensor] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        """``(C, X, Y, Z)``, as the dense tensor would have."""
        return (self.num_channels, *self.spatial_shape)

    @property
    def nbytes(self) -> int:
        """Bytes held by the allocated tiles."""
        return sum(t.numel() * t.element_size() for t in self._tiles.values())

    def clear(self) -> None:
        """Zero every channel (drops all tiles)."""
        self._tiles.clear()

    def is_empty(self, channel: int, region: Sequence[Sequence[int]]) -> bool:
        """Return True when no tile of ``channel`` overlaps ``region`` (so it reads as zeros)."""
        inside = clip_bbox(region, self.spatial_shape)
        if inside is None:
            return True
        return not any((channel, *key) in self._tiles for key, _, _ in self._overlaps(inside))

    def read_into(self, channel: int, bbox: Sequence[Sequence[int]], out: torch.Tensor) -> None:
        """Fill ``out`` (shape of ``bbox``, any device) with ``channel`` over ``bbox``.

        ``bbox`` may extend past the image: voxels outside it read as zero.
        """
        out.zero_()
        inside = clip_bbox(bbox, self.spatial_shape)
        if inside is None:
            return
        origin = [lo for lo, _ in bbox]
        for key, tile_part, region in self._overlaps(inside):
            tile = self._tiles.get((channel, *key))
            if tile is None:
                continue
            dst = tuple(slice(lo - o, hi - o) for (lo, hi), o in zip(region, origin, strict=True))
            out[dst] = tile[tile_part].to(out.device)

    def read(self, channel: int, region: Sequence[Sequence[int]]) -> torch.Tensor:
        """Return a new CPU tensor of ``channel`` over ``region`` (zeros outside the image)."""
        out = torch.empty([hi - lo for lo, hi in region], dtype=STORE_DTYPE)
        self.read_into(channel, region, out)
        return out

    # Tiles outlive the predictions that write them, so they must never be inference tensors.
    @torch.inference_mode(False)
    def write(self, channel: int, region: Sequence[Sequence[int]], values: torch.Tensor) -> None:
        """Assign ``values`` (shape of ``region``, which must lie inside the image)."""
        values = values.to(device="cpu", dtype=STORE_DTYPE)
        origin = [lo for lo, _ in region]
        for key, tile_part, part in self._overlaps(region):
            src = values[
                tuple(slice(lo - o, hi - o) for (lo, hi), o in zip(part, origin, strict=True))
            ]
            tile_key = (channel, *key)
            tile = self._tiles.get(tile_key)
            has_values = bool(src.any())
            if tile is None:
                if not has_values:
                    continue
                tile = self._tiles[tile_key] = torch.zeros(self._tile_shape(key), dtype=STORE_DTYPE)
            tile[tile_part] = src
            if not has_values and not tile.any():
                del self._tiles[tile_key]

    @torch.inference_mode(False)
    def scale_channels(self, channels: Sequence[int], factor: float) -> None:
        """Multiply the given channels by ``factor`` in float16, as the dense tensor would be."""
        wanted = set(channels)
        for key, tile in self._tiles.items():
            if key[0] in wanted:
                tile *= factor

    def tile_regions(self, channel: int) -> list[Bbox]:
        """Image regions of the allocated tiles of ``channel`` (everything else is zero)."""
        t = self.tile_size
        regions = []
        for c, *key in list(self._tiles):
            if c == channel:
                shape = self._tile_shape(key)
                regions.append([[k * t, k * t + s] for k, s in zip(key, shape, strict=True)])
        return regions

    def channel_bbox(self, channel: int, threshold: float = 0.5) -> Bbox | None:
        """Return the bbox of the voxels of ``channel`` above ``threshold``, or None."""
        lows: list[list[int]] = [[], [], []]
        highs: list[list[int]] = [[], [], []]
        for (c, *key), tile in self._tiles.items():
            if c != channel:
                continue
            above = tile > threshold
            if not above.any():
                continue
            plane = above.any(dim=0)
            projections = (above.flatten(1).any(dim=1), plane.any(dim=1), plane.any(dim=0))
            for axis, projection in enumerate(projections):
                hits = torch.nonzero(projection).flatten()
                lows[axis].append(key[axis] * self.tile_size + int(hits[0]))
                highs[axis].append(key[axis] * self.tile_size + int(hits[-1]) + 1)
        if not lows[0]:
            return None
        return [[min(lo), max(hi)] for lo, hi in zip(lows, highs, strict=True)]

    def _tile_shape(self, key: Sequence[int]) -> list[int]:
        t = self.tile_size
        return [min(t, size - k * t) for k, size in zip(key, self.spatial_shape, strict=True)]

    def _overlaps(
        self, region: Sequence[Sequence[int]]
    ) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...], Bbox]]:
        """Yield (tile index, slices inside the tile, image region) for tiles meeting ``region``."""
        t = self.tile_size
        ranges = [range(lo // t, (hi - 1) // t + 1) for lo, hi in region]
        for key in itertools.product(*ranges):
            part = [
                [max(lo, k * t), min(hi, (k + 1) * t)]
                for (lo, hi), k in zip(region, key, strict=True)
            ]
            tile_part = to_slices(
                [[lo - k * t, hi - k * t] for (lo, hi), k in zip(part, key, strict=True)]
            )
            yield key, tile_part, part
