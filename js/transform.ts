/**
 * Screen <-> voxel transforms for one slice view (PROTOCOL.md "Screen layout").
 *
 * A slice along `axis` has in-plane axes (p, q) = the two other volume axes in increasing order.
 * Horizontal on screen = p (rightward). Vertical = q, drawn downward for axis 2 and upward for
 * axes 0 and 1 (so z points up). Pixel aspect comes from spacing_mm[p] : spacing_mm[q].
 * Screen coordinates are CSS pixels relative to the view's top-left corner.
 */
import type { Axis, PlanePoint, Vec3 } from "./types";

export interface ViewState {
  /** Magnification relative to "fit the slice in the viewport". */
  zoom: number;
  /** Offset of the slice centre from the viewport centre, CSS px. */
  panX: number;
  panY: number;
}

export interface PlaneParams {
  axis: Axis;
  shape: Vec3;
  spacingMm: Vec3;
  /** Viewport size, CSS px. */
  width: number;
  height: number;
  view: ViewState;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 64;

export const IDENTITY_VIEW: ViewState = Object.freeze({ zoom: 1, panX: 0, panY: 0 });

/** The in-plane volume axes `(p, q)` of a slice along `axis`. */
export function planeAxes(axis: Axis): [Axis, Axis] {
  if (axis === 0) return [1, 2];
  if (axis === 1) return [0, 2];
  return [0, 1];
}

/** +1 when q grows downward on screen (axis 2), -1 when it grows upward (axes 0 and 1). */
export function qDirection(axis: Axis): 1 | -1 {
  return axis === 2 ? 1 : -1;
}

/** Slice size `[n_p, n_q]` for `axis`. */
export function planeShape(axis: Axis, shape: Vec3): [number, number] {
  const [p, q] = planeAxes(axis);
  return [shape[p], shape[q]];
}

function positiveSpacing(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/** Screen pixels per voxel along p and q. */
export function pixelsPerVoxel(params: PlaneParams): [number, number] {
  const [p, q] = planeAxes(params.axis);
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const spacingP = positiveSpacing(params.spacingMm[p]);
  const spacingQ = positiveSpacing(params.spacingMm[q]);
  const fit = Math.min(params.width / (nP * spacingP), params.height / (nQ * spacingQ));
  const pxPerMm = Math.max(fit, 1e-9) * params.view.zoom;
  return [pxPerMm * spacingP, pxPerMm * spacingQ];
}

/** Screen position of an in-plane voxel coordinate. */
export function voxelToScreen(params: PlaneParams, point: PlanePoint): [number, number] {
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const [scaleP, scaleQ] = pixelsPerVoxel(params);
  const x = params.width / 2 + params.view.panX + (point[0] - (nP - 1) / 2) * scaleP;
  const y = params.height / 2 + params.view.panY + qDirection(params.axis) * (point[1] - (nQ - 1) / 2) * scaleQ;
  return [x, y];
}

/** In-plane continuous voxel coordinate under a screen position (inverse of voxelToScreen). */
export function screenToVoxel(params: PlaneParams, x: number, y: number): PlanePoint {
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const [scaleP, scaleQ] = pixelsPerVoxel(params);
  const p = (x - params.width / 2 - params.view.panX) / scaleP + (nP - 1) / 2;
  const q = (qDirection(params.axis) * (y - params.height / 2 - params.view.panY)) / scaleQ + (nQ - 1) / 2;
  return [p, q];
}

/** Screen rectangle covered by the whole slice (voxel edges, from -0.5 to n - 0.5). */
export function imageRect(params: PlaneParams): Rect {
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const [scaleP, scaleQ] = pixelsPerVoxel(params);
  const [left] = voxelToScreen(params, [-0.5, 0]);
  const qTop = qDirection(params.axis) === 1 ? -0.5 : nQ - 0.5;
  const [, top] = voxelToScreen(params, [0, qTop]);
  return { x: left, y: top, width: nP * scaleP, height: nQ * scaleQ };
}

/**
 * CSS `matrix(a, b, c, d, e, f)` (origin at the top-left) that puts a slice-resolution layer on
 * screen. The layer keeps the slice's own memory order: canvas column = q, row = p, so pixel
 * `(u, v)` with centre `(q + 0.5, p + 0.5)` lands on `voxelToScreen([p, q])`. Writing a slice into
 * it is then a straight copy, with no transposition.
 */
export function layerMatrix(params: PlaneParams): [number, number, number, number, number, number] {
  const rect = imageRect(params);
  const [scaleP, scaleQ] = pixelsPerVoxel(params);
  if (qDirection(params.axis) === 1) return [0, scaleQ, scaleP, 0, rect.x, rect.y];
  return [0, -scaleQ, scaleP, 0, rect.x, rect.y + rect.height];
}

/**
 * View state after zooming by `factor` about a screen point, which stays over the same voxel.
 * The zoom is clamped to [MIN_ZOOM, MAX_ZOOM].
 */
export function zoomAbout(params: PlaneParams, x: number, y: number, factor: number): ViewState {
  const { view } = params;
  const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.zoom * factor));
  const applied = zoom / view.zoom;
  const centreX = params.width / 2;
  const centreY = params.height / 2;
  return {
    zoom,
    panX: x - centreX - (x - centreX - view.panX) * applied,
    panY: y - centreY - (y - centreY - view.panY) * applied,
  };
}

/** Round a continuous in-plane coordinate to the nearest voxel index, clamped into [0, n). */
export function nearestIndex(value: number, size: number): number {
  return Math.min(size - 1, Math.max(0, Math.round(value)));
}

/** True when a continuous in-plane point lies over the slice (within its voxel edges). */
export function insidePlane(axis: Axis, shape: Vec3, point: PlanePoint): boolean {
  const [nP, nQ] = planeShape(axis, shape);
  return point[0] >= -0.5 && point[0] < nP - 0.5 && point[1] >= -0.5 && point[1] < nQ - 0.5;
}

/** Volume voxel `[x, y, z]` for an in-plane index `(p, q)` on slice `index` along `axis`. */
export function planeToVolume(axis: Axis, index: number, p: number, q: number): Vec3 {
  if (axis === 0) return [index, p, q];
  if (axis === 1) return [p, index, q];
  return [p, q, index];
}
