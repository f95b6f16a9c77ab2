/**
 * Prompt gestures: capture a point, box, scribble or lasso (or a hand edit: a brush or eraser
 * stroke, a fill click) on one slice in in-plane voxel coordinates, turn the finished gesture into
 * prompt vertices, and draw it while it is made.
 */
import { brushOutline, isBrushTool } from "./brush";
import { EDIT_TOOLS } from "./contract.gen";
import type { AnyTool, Axis, PlanePoint, Vec3 } from "./types";
import { clampToPlane, closeRing, lassoPolygon, roundPoints, scribblePolyline } from "./geometry";
import {
  type PlaneParams,
  insidePlane,
  nearestIndex,
  planeAxes,
  planeShape,
  pixelsPerVoxel,
  voxelToScreen,
} from "./transform";

export interface Gesture {
  tool: AnyTool;
  positive: boolean;
  axis: Axis;
  index: number;
  /** Captured pointer positions, in-plane voxel coordinates. */
  path: PlanePoint[];
}

/** A prompt drawn on one slice: what a `prompt` message carries (the kernel's `Prompt` with vertices). */
export interface Prompt {
  tool: AnyTool;
  positive: boolean;
  axis: Axis;
  index: number;
  vertices: PlanePoint[];
  /** Paint and erase: the brush radius in voxels along the plane's axes. */
  radius?: [number, number];
  /** Edits: the object they are meant for (the active one when drawn). */
  object?: number;
}

/** Tool keys: napari-nninteractive's P B S L, and napari's labels keys where free (E, F; D draws). */
export const TOOL_KEYS: Record<string, AnyTool> = {
  p: "point",
  b: "box",
  s: "scribble",
  l: "lasso",
  d: "paint",
  e: "erase",
  f: "fill",
};

export const TOOL_LABELS: Record<AnyTool, string> = {
  point: "Point",
  box: "Box",
  scribble: "Scribble",
  lasso: "Lasso",
  paint: "Brush",
  erase: "Eraser",
  fill: "Fill",
};

/** Each tool's key, for tooltips. */
export function toolKey(tool: AnyTool): string {
  return (Object.keys(TOOL_KEYS).find((key) => TOOL_KEYS[key] === tool) ?? "").toUpperCase();
}

/** Start a gesture at `point`; returns null when the point is outside the slice. */
export function startGesture(
  tool: AnyTool,
  positive: boolean,
  axis: Axis,
  index: number,
  shape: Vec3,
  point: PlanePoint,
): Gesture | null {
  if (!insidePlane(axis, shape, point)) return null;
  return { tool, positive, axis, index, path: [[point[0], point[1]]] };
}

/** Record a pointer move (points and boxes only keep the first and latest positions). */
export function extendGesture(gesture: Gesture, point: PlanePoint): void {
  if (gesture.tool === "point" || gesture.tool === "fill") return;
  if (gesture.tool === "box") {
    gesture.path = [gesture.path[0], [point[0], point[1]]];
    return;
  }
  const last = gesture.path[gesture.path.length - 1];
  if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= 0.05) gesture.path.push([point[0], point[1]]);
}

/**
 * The prompt for a finished gesture, or null (with the reason) when it is too small to mean
 * anything: a box needs at least one voxel of extent, a lasso three corners around some area.
 */
export function finishGesture(gesture: Gesture, shape: Vec3): { prompt: Prompt | null; reason: string } {
  const [nP, nQ] = planeShape(gesture.axis, shape);
  // an edit is never negative (the eraser removes voxels), whatever the polarity shown
  const positive = gesture.positive || (EDIT_TOOLS as readonly string[]).includes(gesture.tool);
  const base = { tool: gesture.tool, positive, axis: gesture.axis, index: gesture.index };
  const path = clampToPlane(gesture.path, nP, nQ);
  if (isBrushTool(gesture.tool)) {
    // every pointer position (not clamped: the brush reaches the slice's edge from outside)
    return {
      prompt: { ...base, vertices: roundPoints(scribblePolyline(gesture.path, 0.2)) },
      reason: "",
    };
  }
  if (gesture.tool === "point" || gesture.tool === "fill") {
    const [p, q] = path[0];
    return { prompt: { ...base, vertices: [[nearestIndex(p, nP), nearestIndex(q, nQ)]] }, reason: "" };
  }
  if (gesture.tool === "box") {
    const [a, b] = [path[0], path[path.length - 1]];
    if (Math.abs(Math.round(a[0]) - Math.round(b[0])) < 1 && Math.abs(Math.round(a[1]) - Math.round(b[1])) < 1) {
      return { prompt: null, reason: "Drag to draw a box." };
    }
    return { prompt: { ...base, vertices: roundPoints([a, b]) }, reason: "" };
  }
  if (gesture.tool === "scribble") {
    return { prompt: { ...base, vertices: roundPoints(scribblePolyline(path)) }, reason: "" };
  }
  const polygon = lassoPolygon(path);
  if (!polygon) return { prompt: null, reason: "Draw a closed loop around the region for a lasso." };
  return { prompt: { ...base, vertices: roundPoints(polygon) }, reason: "" };
}

/** Scribble width in voxels on a slice along `axis` (mean of the two in-plane thicknesses). */
export function scribbleWidth(axis: Axis, thickness: Vec3 | null | undefined): number {
  if (!thickness) return 1;
  const [p, q] = planeAxes(axis);
  return Math.max(1, (thickness[p] + thickness[q]) / 2);
}

export interface GestureStyle {
  /** Dashed outline: sent, waiting for the kernel. */
  pending?: boolean;
  scribbleWidth: number;
  /** Paint and erase: the brush radius in voxels along the plane's axes. */
  brushRadius?: [number, number];
}

export const POSITIVE_COLOUR = "#22c55e";
export const NEGATIVE_COLOUR = "#ef4444";

/** Draw a gesture (or a sent prompt) onto a 2-D context in CSS px. */
export function drawGesture(
  ctx: CanvasRenderingContext2D,
  params: PlaneParams,
  gesture: Pick<Gesture, "tool" | "positive" | "path">,
  style: GestureStyle,
): void {
  const colour = gesture.positive ? POSITIVE_COLOUR : NEGATIVE_COLOUR;
  const screen = gesture.path.map((point) => voxelToScreen(params, point));
  if (screen.length === 0) return;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.fillStyle = colour;
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  ctx.lineWidth = 2;
  if (style.pending) ctx.setLineDash([5, 4]);
  if (isBrushTool(gesture.tool)) {
    drawStroke(ctx, params, gesture, style);
  } else if (gesture.tool === "point" || gesture.tool === "fill") {
    drawMarker(ctx, screen[0], gesture.positive, style.pending ?? false);
  } else if (gesture.tool === "box") {
    const [a, b] = [screen[0], screen[screen.length - 1]];
    ctx.globalAlpha = 0.15;
    ctx.fillRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
    ctx.globalAlpha = 1;
    ctx.strokeRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1]));
  } else if (gesture.tool === "scribble") {
    const [scaleP, scaleQ] = pixelsPerVoxel(params);
    ctx.globalAlpha = style.pending ? 0.45 : 0.6;
    ctx.setLineDash([]);
    ctx.lineWidth = Math.max(2, (style.scribbleWidth * (scaleP + scaleQ)) / 2);
    tracePath(ctx, screen);
    if (screen.length === 1) ctx.lineTo(screen[0][0] + 0.01, screen[0][1]);
    ctx.stroke();
  } else {
    const ring = closeRing(gesture.path).map((point) => voxelToScreen(params, point));
    ctx.globalAlpha = 0.15;
    tracePath(ctx, ring);
    ctx.fill("evenodd");
    ctx.globalAlpha = 1;
    tracePath(ctx, style.pending ? ring : screen);
    ctx.stroke();
  }
  ctx.restore();
}

export const ERASE_COLOUR = "#f8fafc";

/** A brush stroke: its covered band (discs joined by capsules) in translucent colour. */
function drawStroke(
  ctx: CanvasRenderingContext2D,
  params: PlaneParams,
  gesture: Pick<Gesture, "tool" | "path">,
  style: GestureStyle,
): void {
  const radius = style.brushRadius ?? [1, 1];
  ctx.setLineDash([]);
  ctx.globalAlpha = style.pending ? 0.35 : 0.55;
  ctx.fillStyle = gesture.tool === "erase" ? ERASE_COLOUR : POSITIVE_COLOUR;
  // the band as the union of outlines along the path: exact for any per-axis radius
  ctx.beginPath();
  const samples = densePath(gesture.path, Math.min(radius[0], radius[1]) / 2);
  for (const centre of samples) {
    const ring = brushOutline(centre, radius, 24).map((point) => voxelToScreen(params, point));
    ring.forEach(([x, y], k) => (k === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
    ctx.closePath();
  }
  ctx.fill("nonzero");
}

/** Points along a polyline no more than `spacing` apart (its vertices included). */
function densePath(path: readonly PlanePoint[], spacing: number): PlanePoint[] {
  const out: PlanePoint[] = path.slice(0, 1);
  for (let k = 1; k < path.length; k++) {
    const [a, b] = [path[k - 1], path[k]];
    const steps = Math.min(256, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1]) / Math.max(spacing, 0.25)));
    for (let s = 1; s <= steps; s++) out.push([a[0] + ((b[0] - a[0]) * s) / steps, a[1] + ((b[1] - a[1]) * s) / steps]);
  }
  return out;
}

/** The brush's round outline around the pointer (in-plane voxels), in CSS px. */
export function drawBrushCursor(
  ctx: CanvasRenderingContext2D,
  params: PlaneParams,
  centre: PlanePoint,
  radius: [number, number],
  erase: boolean,
): void {
  const ring = brushOutline(centre, radius).map((point) => voxelToScreen(params, point));
  ctx.save();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "#000000";
  ctx.globalAlpha = 0.6;
  tracePath(ctx, ring);
  ctx.closePath();
  ctx.stroke();
  ctx.lineWidth = 1;
  ctx.strokeStyle = erase ? ERASE_COLOUR : POSITIVE_COLOUR;
  ctx.globalAlpha = 1;
  ctx.setLineDash([4, 3]);
  ctx.stroke();
  ctx.restore();
}

function tracePath(ctx: CanvasRenderingContext2D, points: [number, number][]): void {
  ctx.beginPath();
  points.forEach(([x, y], k) => (k === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
}

function drawMarker(
  ctx: CanvasRenderingContext2D,
  [x, y]: [number, number],
  positive: boolean,
  pending: boolean,
): void {
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, Math.PI * 2);
  ctx.globalAlpha = pending ? 0.55 : 0.9;
  ctx.fill("evenodd");
  ctx.globalAlpha = 1;
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 1.5;
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(x - 3, y);
  ctx.lineTo(x + 3, y);
  if (positive) {
    ctx.moveTo(x, y - 3);
    ctx.lineTo(x, y + 3);
  }
  ctx.stroke();
}
