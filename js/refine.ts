/**
 * A zoomed view of a slice sent decimated (`stride` > 1, a big lazy image): which finer tile to
 * ask for (`get_slice` with `stride` and `region`), whether one already answers it, and where it
 * goes on screen. Pure functions of the view's geometry.
 */
import { type PlaneParams, layerMatrix, pixelsPerVoxel, planeShape, screenToVoxel } from "./transform";
import type { PlaneRegion } from "./types";

/** Padding around the visible region, as a share of its size: small pans need no new tile. */
export const REFINE_MARGIN = 0.25;

/** What a view asks for: every `stride`-th voxel of `region`, and the part it shows now. */
export interface TileWant {
  stride: number;
  /** The padded, clamped region to ask for (starts multiples of `stride`). */
  region: PlaneRegion;
  /** The region on screen now (clamped): a tile answers the view when it covers this. */
  visible: PlaneRegion;
}

/**
 * The coarsest stride at which one element still spans at most about one device pixel at this
 * zoom (1 once a voxel is wider than a device pixel).
 */
export function neededStride(params: PlaneParams, devicePixelRatio: number): number {
  const [scaleP, scaleQ] = pixelsPerVoxel(params);
  const devicePerVoxel = Math.max(scaleP, scaleQ) * (devicePixelRatio > 0 ? devicePixelRatio : 1);
  return Math.max(1, Math.floor(1 / devicePerVoxel + 1e-9));
}

/** The voxels `[lo, hi)` along each in-plane axis that the viewport shows, padded by `margin`
 * of their extent, clamped to the plane; null when the plane is off screen. */
export function visibleRegion(params: PlaneParams, margin = 0): PlaneRegion | null {
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const [p0, q0] = screenToVoxel(params, 0, 0);
  const [p1, q1] = screenToVoxel(params, params.width, params.height);
  const span = (a: number, b: number, n: number): [number, number] | null => {
    const [lo, hi] = [Math.min(a, b), Math.max(a, b)];
    const pad = (hi - lo) * margin;
    // voxel k covers [k - 0.5, k + 0.5)
    const first = Math.max(0, Math.floor(lo - pad + 0.5));
    const end = Math.min(n, Math.floor(hi + pad + 0.5) + 1);
    return first < end ? [first, end] : null;
  };
  const p = span(p0, p1, nP);
  const q = span(q0, q1, nQ);
  return p && q ? [p, q] : null;
}

/** `region` with its starts rounded down to multiples of `stride` (as the kernel serves it). */
export function alignRegion(region: PlaneRegion, stride: number): PlaneRegion {
  const [[u0, u1], [v0, v1]] = region;
  return [
    [u0 - (u0 % stride), u1],
    [v0 - (v0 % stride), v1],
  ];
}

/**
 * What a view of a slice sent at `coarseStride` should ask for to look sharp at its zoom, or
 * null when the coarse slice is already fine enough (or the plane is off screen).
 */
export function refineWant(params: PlaneParams, coarseStride: number, devicePixelRatio: number): TileWant | null {
  const stride = neededStride(params, devicePixelRatio);
  if (stride >= coarseStride) return null;
  const visible = visibleRegion(params);
  const padded = visibleRegion(params, REFINE_MARGIN);
  if (!visible || !padded) return null;
  return { stride, region: alignRegion(padded, stride), visible };
}

/** Whether `outer` contains `inner`. */
export function covers(outer: PlaneRegion, inner: PlaneRegion): boolean {
  return outer.every(([lo, hi], k) => lo <= inner[k][0] && inner[k][1] <= hi);
}

/**
 * CSS matrix that puts a tile of `region` on the stage: the slice layer's matrix (`layerMatrix`)
 * moved by the region's start, so the tile's element `(0, 0)` lies over voxel `(u0, v0)`. Like
 * the slice layer, the tile canvas is `stride` CSS px per element, one CSS px per voxel.
 */
export function tileMatrix(params: PlaneParams, region: PlaneRegion): [number, number, number, number, number, number] {
  const [a, b, c, d, e, f] = layerMatrix(params);
  const [[u0], [v0]] = region;
  // layer-local x runs along q (columns), y along p (rows)
  return [a, b, c, d, a * v0 + c * u0 + e, b * v0 + d * u0 + f];
}
