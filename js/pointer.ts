/**
 * Pointer input on one slice view: prompt gestures and hand edits (left button), pan (middle
 * button or space + left), window/level (right drag), slice wheel, ctrl+wheel zoom and
 * shift+wheel brush size (brush and eraser), the brush cursor and the cursor readout.
 */
import type { AnyModel } from "@anywidget/types";
import { type Gesture, type Prompt, extendGesture, finishGesture, startGesture } from "./gestures";
import { isBrushTool, radiusVoxels } from "./brush";
import { EDIT_TOOLS } from "./contract.gen";
import {
  type PlaneParams,
  type ViewState,
  insidePlane,
  nearestIndex,
  planeShape,
  planeToVolume,
  screenToVoxel,
} from "./transform";
import type { Axis, PlanePoint, Vec3, WidgetTraits } from "./types";
import type { LabelVolume } from "./labels";
import type { SliceLoader } from "./slices";
import { type WindowLevel, dragWindow } from "./windows";

/** Wheel travel (CSS px) per slice step. */
const WHEEL_STEP_PX = 50;

export interface CursorReadout {
  voxel: Vec3;
  value: number | null;
  label: number;
}

/** The status line's text for a readout: position, value (floats to 5 digits) and object. */
export function formatReadout({ voxel, value, label }: CursorReadout, dtype: string): string {
  const position = `x ${voxel[0]}  y ${voxel[1]}  z ${voxel[2]}`;
  const shown =
    value === null ? "…" : dtype.startsWith("float") ? Number(value.toPrecision(5)).toString() : String(value);
  return `${position}   = ${shown}${label ? `   object ${label}` : ""}`;
}

/** What pointer input does to the widget around the view. */
export interface PointerHost {
  model: AnyModel<WidgetTraits>;
  loader: SliceLoader;
  labels: LabelVolume;
  spaceHeld(): boolean;
  setWindow(window: WindowLevel): void;
  submit(prompt: Prompt): void;
  hint(text: string): void;
  error(message: string): void;
  cursor(readout: CursorReadout | null): void;
  /** Grow (+1) or shrink (-1) the brush. */
  brushSize(direction: 1 | -1): void;
}

/** The brush radius in voxels along the plane's axes of a view along `axis`, from the traits. */
export function brushRadius(model: AnyModel<WidgetTraits>, axis: Axis): [number, number] {
  return radiusVoxels(
    axis,
    model.get("brush_radius") ?? 3,
    model.get("brush_unit") ?? "voxel",
    model.get("spacing_mm"),
  );
}

/** What pointer input does to its own view. */
export interface PointerView {
  readonly axis: Axis;
  readonly view: ViewState;
  params(): PlaneParams;
  index(): number;
  setView(view: ViewState): void;
  step(delta: number): void;
  zoomBy(factor: number, x: number, y: number): void;
  invalidateSurface(): void;
  activate(): void;
}

type Drag =
  | { kind: "pan"; x: number; y: number; start: ViewState }
  | { kind: "window"; x: number; y: number; start: WindowLevel };

export class ViewPointer {
  /** The gesture being drawn, if any. */
  gesture: Gesture | null = null;
  /** Where the pointer is over the slice (in-plane voxels), for the brush cursor; null when out. */
  hover: PlanePoint | null = null;
  private drag: Drag | null = null;
  private wheelRemainder = 0;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly surface: HTMLElement,
    private readonly view: PointerView,
    private readonly host: PointerHost,
  ) {
    this.listen("pointerdown", (event) => this.pointerDown(event));
    this.listen("pointermove", (event) => this.pointerMove(event));
    this.listen("pointerup", (event) => this.pointerUp(event));
    this.listen("pointercancel", () => this.cancel());
    this.listen("pointerleave", () => {
      this.host.cursor(null);
      this.hover = null;
      this.view.invalidateSurface();
    });
    this.listen("pointerenter", () => this.view.activate());
    this.listen("contextmenu", (event) => event.preventDefault());
    this.listen("wheel", (event) => this.wheel(event), { passive: false });
  }

  /** Drop any gesture or drag in progress; returns true when there was a gesture. */
  cancel(): boolean {
    const had = this.gesture !== null;
    this.drag = null;
    this.gesture = null;
    this.view.invalidateSurface();
    return had;
  }

  dispose(): void {
    for (const cleanup of this.cleanups) cleanup();
  }

  private get model(): AnyModel<WidgetTraits> {
    return this.host.model;
  }

  private listen<K extends keyof HTMLElementEventMap>(
    type: K,
    handler: (event: HTMLElementEventMap[K]) => void,
    options?: AddEventListenerOptions,
  ): void {
    // A failing handler shows its error in the widget instead of vanishing into the console.
    const guarded = (event: Event) => {
      try {
        handler(event as HTMLElementEventMap[K]);
      } catch (error) {
        this.host.error(`The ${type} handler failed: ${(error as Error).message}`);
      }
    };
    this.surface.addEventListener(type, guarded, options);
    this.cleanups.push(() => this.surface.removeEventListener(type, guarded, options));
  }

  private local(event: MouseEvent): [number, number] {
    const rect = this.surface.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  private pointerDown(event: PointerEvent): void {
    event.preventDefault();
    this.view.activate();
    const [x, y] = this.local(event);
    if (event.button === 1 || (event.button === 0 && this.host.spaceHeld())) {
      this.drag = { kind: "pan", x, y, start: { ...this.view.view } };
    } else if (event.button === 2) {
      this.drag = { kind: "window", x, y, start: this.model.get("window") };
    } else if (event.button === 0) {
      if (!this.startGesture(x, y)) return;
    } else {
      return;
    }
    this.surface.setPointerCapture(event.pointerId);
    this.view.invalidateSurface();
  }

  private startGesture(x: number, y: number): boolean {
    const tool = this.model.get("tool");
    const edit = (EDIT_TOOLS as readonly string[]).includes(tool);
    if (!edit && !(this.model.get("supported_tools") ?? [tool]).includes(tool as never)) {
      this.host.hint(`This model does not support the ${tool} tool.`);
      return false;
    }
    const point = screenToVoxel(this.view.params(), x, y);
    const { axis } = this.view;
    this.gesture = startGesture(
      tool,
      this.model.get("positive"),
      axis,
      this.view.index(),
      this.model.get("shape"),
      point,
    );
    return this.gesture !== null;
  }

  private pointerMove(event: PointerEvent): void {
    const [x, y] = this.local(event);
    this.readout(x, y);
    if (isBrushTool(this.model.get("tool"))) {
      this.hover = screenToVoxel(this.view.params(), x, y);
      if (!this.gesture) this.view.invalidateSurface();
    }
    if (this.drag?.kind === "pan") {
      const { start } = this.drag;
      this.view.setView({ ...start, panX: start.panX + x - this.drag.x, panY: start.panY + y - this.drag.y });
    } else if (this.drag?.kind === "window") {
      const stats = this.model.get("intensity_stats");
      this.host.setWindow(dragWindow(this.drag.start, x - this.drag.x, y - this.drag.y, stats));
    } else if (this.gesture) {
      for (const sample of event.getCoalescedEvents?.() ?? [event]) {
        const [sx, sy] = this.local(sample);
        extendGesture(this.gesture, screenToVoxel(this.view.params(), sx, sy));
      }
      this.view.invalidateSurface();
    }
  }

  private pointerUp(event: PointerEvent): void {
    this.drag = null;
    const gesture = this.gesture;
    this.gesture = null;
    if (gesture) {
      const { prompt, reason } = finishGesture(gesture, this.model.get("shape"));
      if (prompt) this.host.submit(this.withEditFields(prompt));
      else this.host.hint(reason);
    }
    if (this.surface.hasPointerCapture(event.pointerId)) this.surface.releasePointerCapture(event.pointerId);
    this.view.invalidateSurface();
  }

  /** An edit carries its object and, for the brush and eraser, the radius in voxels. */
  private withEditFields(prompt: Prompt): Prompt {
    if (!(EDIT_TOOLS as readonly string[]).includes(prompt.tool)) return prompt;
    const object = this.model.get("active_object");
    if (!isBrushTool(prompt.tool)) return { ...prompt, object };
    return { ...prompt, object, radius: brushRadius(this.model, prompt.axis) };
  }

  private wheel(event: WheelEvent): void {
    event.preventDefault();
    const [x, y] = this.local(event);
    const pixels = event.deltaY * (event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? 800 : 1);
    if (event.shiftKey && isBrushTool(this.model.get("tool"))) {
      // Shift+wheel sizes the brush (napari's habit); wheel up grows it
      if (pixels !== 0) this.host.brushSize(pixels < 0 ? 1 : -1);
      this.view.invalidateSurface();
      return;
    }
    if (event.ctrlKey || event.metaKey) {
      this.view.zoomBy(Math.exp(-pixels * 0.0025), x, y);
      return;
    }
    // Trackpads send many small deltas: accumulate them into whole steps; wheel up = next slice.
    this.wheelRemainder += pixels;
    const steps = Math.trunc(this.wheelRemainder / WHEEL_STEP_PX);
    if (steps !== 0) {
      this.wheelRemainder -= steps * WHEEL_STEP_PX;
      this.view.step(-steps * (event.shiftKey ? 5 : 1));
    }
  }

  private readout(x: number, y: number): void {
    const params = this.view.params();
    const point = screenToVoxel(params, x, y);
    if (!insidePlane(params.axis, params.shape, point)) {
      this.host.cursor(null);
      return;
    }
    const [nP, nQ] = planeShape(params.axis, params.shape);
    const p = nearestIndex(point[0], nP);
    const q = nearestIndex(point[1], nQ);
    const index = this.view.index();
    const voxel = planeToVolume(params.axis, index, p, q);
    const slice = this.host.loader.get(params.axis, index);
    const { labels } = this.host;
    const label = labels.volume[(voxel[0] * labels.shape[1] + voxel[1]) * labels.shape[2] + voxel[2]] ?? 0;
    this.host.cursor({ voxel, value: slice ? slice.data[p * nQ + q] : null, label });
  }
}
