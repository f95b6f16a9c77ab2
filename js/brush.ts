/**
 * The brush: which voxels of a slice a stroke covers (the kernel's rule, `annotation/brush.py`,
 * computed with the same double operations in the same order; `tests/widget/brush_fixture.json`
 * pins both), the radius in voxels per in-plane axis, and the stroke drawn at once into the label
 * volume while the kernel works (its patches then replace it; an error puts the voxels back).
 *
 * Rule: in in-plane voxel coordinates (voxel k's centre at k), a voxel is covered when its centre,
 * scaled by 1 / radius per axis, lies within distance 1 of a segment between consecutive vertices
 * (scaled the same way); one vertex is a disc.
 */
import { MAX_BRUSH_RADIUS, MIN_BRUSH_RADIUS } from "./contract.gen";
import type { LabelVolume } from "./labels";
import { planeAxes } from "./transform";
import type { Axis, Bbox, PlanePoint, Vec3 } from "./types";

/** Tools that stroke with the round brush. */
export const BRUSH_TOOLS = ["paint", "erase"] as const;
export type BrushTool = (typeof BRUSH_TOOLS)[number];
export type BrushUnit = "voxel" | "mm";

export function isBrushTool(tool: string): tool is BrushTool {
  return (BRUSH_TOOLS as readonly string[]).includes(tool);
}

/** Covered voxels of one slice: `covered[(p - p0) * size[1] + (q - q0)]` is 1 when covered. */
export interface StrokeRegion {
  origin: [number, number];
  size: [number, number];
  covered: Uint8Array;
}

type Window = [number, number, number, number];

function segmentWindow(a: PlanePoint, b: PlanePoint, radius: [number, number], plane: [number, number]): Window | null {
  const bounds: number[] = [];
  for (const axis of [0, 1]) {
    const lo = Math.min(a[axis], b[axis]) - radius[axis];
    const hi = Math.max(a[axis], b[axis]) + radius[axis];
    const start = Math.max(Math.ceil(Math.max(lo, -1)), 0);
    const stop = Math.min(Math.floor(Math.min(hi, plane[axis])) + 1, plane[axis]);
    if (stop <= start) return null;
    bounds.push(start, stop);
  }
  return bounds as Window;
}

function segments(vertices: readonly PlanePoint[]): [PlanePoint, PlanePoint][] {
  if (vertices.length === 1) return [[vertices[0], vertices[0]]];
  return vertices.slice(1).map((b, k): [PlanePoint, PlanePoint] => [vertices[k], b]);
}

/** Rasterize a stroke on a `plane`-shaped slice; null when it covers no voxel of it. */
export function strokeRegion(
  vertices: readonly PlanePoint[],
  radius: [number, number],
  plane: [number, number],
): StrokeRegion | null {
  const windows: [PlanePoint, PlanePoint, Window][] = [];
  for (const [a, b] of segments(vertices)) {
    const window = segmentWindow(a, b, radius, plane);
    if (window) windows.push([a, b, window]);
  }
  if (windows.length === 0) return null;
  const p0 = Math.min(...windows.map(([, , w]) => w[0]));
  const q0 = Math.min(...windows.map(([, , w]) => w[2]));
  const nP = Math.max(...windows.map(([, , w]) => w[1])) - p0;
  const nQ = Math.max(...windows.map(([, , w]) => w[3])) - q0;
  const covered = new Uint8Array(nP * nQ);
  const [rp, rq] = radius;
  let any = false;
  for (const [a, b, [wp0, wp1, wq0, wq1]] of windows) {
    const ap = a[0] / rp;
    const aq = a[1] / rq;
    const dp = b[0] / rp - ap;
    const dq = b[1] / rq - aq;
    const length2 = dp * dp + dq * dq;
    for (let kp = wp0; kp < wp1; kp++) {
      const u = kp / rp;
      for (let kq = wq0; kq < wq1; kq++) {
        const v = kq / rq;
        let ep = u - ap;
        let eq = v - aq;
        if (length2 > 0) {
          const t = Math.min(Math.max((ep * dp + eq * dq) / length2, 0), 1);
          ep = u - (ap + t * dp);
          eq = v - (aq + t * dq);
        }
        if (ep * ep + eq * eq <= 1) {
          covered[(kp - p0) * nQ + (kq - q0)] = 1;
          any = true;
        }
      }
    }
  }
  return any ? { origin: [p0, q0], size: [nP, nQ], covered } : null;
}

/** The brush radius in voxels along the plane's axes `(p, q)`: mm become voxels per axis. */
export function radiusVoxels(axis: Axis, radius: number, unit: BrushUnit, spacing: Vec3): [number, number] {
  if (unit === "voxel") return [radius, radius];
  const [p, q] = planeAxes(axis);
  return [radius / spacing[p], radius / spacing[q]];
}

/** A radius within the kernel's range (a number that is not one becomes the smallest). */
export function clampRadius(radius: number): number {
  if (!Number.isFinite(radius)) return MIN_BRUSH_RADIUS;
  return Math.min(MAX_BRUSH_RADIUS, Math.max(MIN_BRUSH_RADIUS, radius));
}

/** The next radius for `[` (direction -1) and `]` (+1): steps of half a voxel, then ~15%. */
export function stepRadius(radius: number, direction: 1 | -1): number {
  const step = Math.max(0.5, Math.round(radius * 0.15 * 2) / 2);
  return clampRadius(radius + direction * step);
}

/** A stroke sent to the kernel, as the label volume needs it. */
export interface StrokeEdit {
  tool: BrushTool;
  axis: Axis;
  index: number;
  vertices: PlanePoint[];
  radius: [number, number];
}

/**
 * Draw `edit` into the label volume at once, as the kernel will: paint gives the active object
 * the stroke's background voxels (every voxel under `"overwrite"`), erase clears the active
 * object's voxels only. Resolves to a function that puts the old values back (for an error).
 */
export function drawStroke(
  labels: LabelVolume,
  edit: StrokeEdit,
  active: number,
  overlap: "lock" | "overwrite",
): Promise<() => void> {
  return labels.enqueue(() => {
    const [pAxis, qAxis] = planeAxes(edit.axis);
    const shape = labels.shape;
    const region = strokeRegion(edit.vertices, edit.radius, [shape[pAxis], shape[qAxis]]);
    if (!region) return () => undefined;
    const strides: Vec3 = [shape[1] * shape[2], shape[2], 1];
    const changed: number[] = [];
    const before: number[] = [];
    const volume = labels.volume;
    for (let i = 0; i < region.size[0]; i++) {
      for (let j = 0; j < region.size[1]; j++) {
        if (!region.covered[i * region.size[1] + j]) continue;
        const at =
          edit.index * strides[edit.axis] +
          (region.origin[0] + i) * strides[pAxis] +
          (region.origin[1] + j) * strides[qAxis];
        const old = volume[at];
        const next =
          edit.tool === "erase" ? (old === active ? 0 : old) : old === 0 || overlap === "overwrite" ? active : old;
        if (next !== old) {
          changed.push(at);
          before.push(old);
          volume[at] = next;
        }
      }
    }
    const bbox = strokeBbox(edit, region);
    if (changed.length) labels.touched(bbox);
    return () => {
      labels.enqueue(() => {
        changed.forEach((at, k) => (labels.volume[at] = before[k]));
        labels.touched(bbox);
      });
    };
  });
}

function strokeBbox(edit: StrokeEdit, region: StrokeRegion): Bbox {
  const [pAxis, qAxis] = planeAxes(edit.axis);
  const bbox: Bbox = [
    [0, 0],
    [0, 0],
    [0, 0],
  ];
  bbox[edit.axis] = [edit.index, edit.index + 1];
  bbox[pAxis] = [region.origin[0], region.origin[0] + region.size[0]];
  bbox[qAxis] = [region.origin[1], region.origin[1] + region.size[1]];
  return bbox;
}

/** The brush outline around `centre` (in-plane voxels): a polygon of in-plane points. */
export function brushOutline(centre: PlanePoint, radius: [number, number], corners = 48): PlanePoint[] {
  return Array.from({ length: corners }, (_, k): PlanePoint => {
    const angle = (2 * Math.PI * k) / corners;
    return [centre[0] + radius[0] * Math.cos(angle), centre[1] + radius[1] * Math.sin(angle)];
  });
}
