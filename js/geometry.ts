/**
 * Lasso and scribble geometry in in-plane voxel coordinates `[p, q]`: cleaning and simplifying
 * the captured polyline and closing polygons. The browser sends the vertices; the kernel turns
 * them into voxels (nni_jupyter/inference/gestures.py, pinned by tests/widget/gesture_fixture.json).
 */
import type { PlanePoint } from "./types";

/** Euclidean distance between two points. */
export function distance(a: PlanePoint, b: PlanePoint): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/** Distance from `point` to the segment `a`-`b`. */
export function distanceToSegment(point: PlanePoint, a: PlanePoint, b: PlanePoint): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const lengthSq = dx * dx + dy * dy;
  if (lengthSq === 0) return distance(point, a);
  const t = Math.max(0, Math.min(1, ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / lengthSq));
  return Math.hypot(point[0] - (a[0] + t * dx), point[1] - (a[1] + t * dy));
}

/** Shortest distance from `point` to a polyline (a single vertex counts as a dot). */
export function distanceToPolyline(point: PlanePoint, polyline: readonly PlanePoint[]): number {
  if (polyline.length === 0) return Infinity;
  if (polyline.length === 1) return distance(point, polyline[0]);
  let best = Infinity;
  for (let k = 1; k < polyline.length; k++) {
    best = Math.min(best, distanceToSegment(point, polyline[k - 1], polyline[k]));
  }
  return best;
}

/**
 * Drop vertices closer than `minDistance` to the previously kept one. The path still ends at its
 * last vertex unless the whole path is shorter than `minDistance` (a dot: one vertex).
 */
export function dropClosePoints(points: readonly PlanePoint[], minDistance: number): PlanePoint[] {
  if (points.length <= 1) return points.map((p) => [p[0], p[1]]);
  const kept: PlanePoint[] = [[points[0][0], points[0][1]]];
  for (let k = 1; k < points.length; k++) {
    if (distance(points[k], kept[kept.length - 1]) >= minDistance) kept.push([points[k][0], points[k][1]]);
  }
  const last = points[points.length - 1];
  if (kept.length > 1) kept[kept.length - 1] = [last[0], last[1]];
  return kept;
}

/**
 * Ramer-Douglas-Peucker simplification: every dropped vertex lies within `tolerance` of the
 * result, and the first and last vertices are kept.
 */
export function simplifyPolyline(points: readonly PlanePoint[], tolerance: number): PlanePoint[] {
  if (points.length <= 2) return points.map((p) => [p[0], p[1]]);
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack: [number, number][] = [[0, points.length - 1]];
  while (stack.length > 0) {
    const [first, last] = stack.pop() as [number, number];
    let worst = -1;
    let worstDistance = tolerance;
    for (let k = first + 1; k < last; k++) {
      const d = distanceToSegment(points[k], points[first], points[last]);
      if (d > worstDistance) {
        worst = k;
        worstDistance = d;
      }
    }
    if (worst >= 0) {
      keep[worst] = 1;
      stack.push([first, worst], [worst, last]);
    }
  }
  const result: PlanePoint[] = [];
  for (let k = 0; k < points.length; k++) if (keep[k]) result.push([points[k][0], points[k][1]]);
  return result;
}

/** The polygon's vertices without a repeated closing vertex (the closing edge is implied). */
export function openRing(polygon: readonly PlanePoint[]): PlanePoint[] {
  const ring = polygon.map((p): PlanePoint => [p[0], p[1]]);
  while (ring.length > 1 && distance(ring[0], ring[ring.length - 1]) === 0) ring.pop();
  return ring;
}

/** The polygon's vertices with the first vertex repeated at the end (for drawing). */
export function closeRing(polygon: readonly PlanePoint[]): PlanePoint[] {
  const ring = openRing(polygon);
  if (ring.length > 0) ring.push([ring[0][0], ring[0][1]]);
  return ring;
}

/** Signed shoelace area (positive when counter-clockwise in a y-up frame). */
export function polygonArea(polygon: readonly PlanePoint[]): number {
  const ring = openRing(polygon);
  let twice = 0;
  for (let k = 0; k < ring.length; k++) {
    const [x0, y0] = ring[k];
    const [x1, y1] = ring[(k + 1) % ring.length];
    twice += x0 * y1 - x1 * y0;
  }
  return twice / 2;
}

/** Clamp points into the slice's continuous extent `[0, n - 1]` along p and q. */
export function clampToPlane(points: readonly PlanePoint[], nP: number, nQ: number): PlanePoint[] {
  return points.map(([p, q]) => [Math.min(nP - 1, Math.max(0, p)), Math.min(nQ - 1, Math.max(0, q))]);
}

/** Round coordinates to `decimals` places to keep prompt messages short. */
export function roundPoints(points: readonly PlanePoint[], decimals = 2): PlanePoint[] {
  const scale = 10 ** decimals;
  return points.map(([p, q]) => [Math.round(p * scale) / scale, Math.round(q * scale) / scale]);
}

/**
 * Turn a captured lasso path into the polygon to send: close-point removal, simplification to
 * `tolerance` voxels and no repeated closing vertex. Returns null when fewer than 3 vertices remain
 * or the enclosed area is under `minArea` voxels (a slip, not a lasso).
 */
export function lassoPolygon(path: readonly PlanePoint[], tolerance = 0.15, minArea = 1): PlanePoint[] | null {
  const cleaned = dropClosePoints(openRing(path), tolerance / 2);
  const polygon = openRing(simplifyPolyline(closeRing(cleaned), tolerance));
  if (polygon.length < 3 || Math.abs(polygonArea(polygon)) < minArea) return null;
  return polygon;
}

/** Turn a captured scribble path into the polyline to send (at least one vertex). */
export function scribblePolyline(path: readonly PlanePoint[], tolerance = 0.5): PlanePoint[] {
  if (path.length === 0) return [];
  return simplifyPolyline(dropClosePoints(path, tolerance / 2), tolerance);
}
