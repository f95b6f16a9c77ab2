/**
 * One slice view: three stacked canvases (image and mask overlay at slice resolution, gestures at
 * screen resolution), a slice slider, and the pointer interactions on them (prompt gestures, pan, zoom, window drag, slice wheel).
 */
import type { AnyModel } from "@anywidget/types";
import type { LabelVolume } from "./labels";
import { SliceLayer, clearedContext, drawCrosshair } from "./layers";
import { colourTable, labelSlice, renderOverlay } from "./overlay";
import type { SliceLoader } from "./slices";
import { type Gesture, type PromptDraft, drawGesture, extendGesture, finishGesture, scribbleWidth, startGesture } from "./tools";
import {
  IDENTITY_VIEW,
  type PlaneParams,
  type ViewState,
  layerMatrix,
  insidePlane,
  nearestIndex,
  planeShape,
  planeToVolume,
  screenToVoxel,
  zoomAbout,
} from "./transform";
import type { Axis, Vec3, WidgetTraits } from "./types";
import { type WindowLevel, dragWindow, windowSlice } from "./window";
import { h } from "./ui";

export const AXIS_NAMES = ["X", "Y", "Z"] as const;

export interface CursorReadout {
  voxel: Vec3;
  value: number | null;
  label: number;
}

/** What a view needs from the widget around it. */
export interface ViewHost {
  model: AnyModel<WidgetTraits>;
  loader: SliceLoader;
  labels: LabelVolume;
  hiddenObjects: ReadonlySet<number>;
  spaceHeld(): boolean;
  pendingPrompts(): Iterable<PromptDraft>;
  setSliceIndex(axis: Axis, index: number): void;
  setWindow(window: WindowLevel, final: boolean): void;
  submit(draft: PromptDraft): void;
  hint(text: string): void;
  error(message: string): void;
  cursor(readout: CursorReadout | null): void;
  activate(view: SliceView): void;
  /** Called after each redraw. */
  drawn?(view: SliceView): void;
}

type Drag =
  | { kind: "pan"; x: number; y: number; start: ViewState }
  | { kind: "window"; x: number; y: number; start: WindowLevel };


export class SliceView {
  readonly el: HTMLElement;
  axis: Axis;
  view: ViewState = { ...IDENTITY_VIEW };
  private readonly stage: HTMLElement;
  private readonly imageLayer = new SliceLayer("image");
  private readonly overlayLayer = new SliceLayer("overlay");
  /** Gestures, pending prompts and the crosshair, at screen resolution; takes the pointer events. */
  private readonly surface: HTMLCanvasElement;
  private readonly slider: HTMLInputElement;
  private readonly caption: HTMLElement;
  private shownIndex = -1;
  private imageDirty = true;
  private overlayDirty = true;
  private placementDirty = true;
  private surfaceDirty = true;
  private overlayVoxels = 0;
  private labelScratch: Uint8Array | undefined;
  private size = { width: 1, height: 1 };
  private gesture: Gesture | null = null;
  private drag: Drag | null = null;
  private wheelRemainder = 0;
  private frame = 0;
  private readonly resizeObserver: ResizeObserver;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly host: ViewHost,
    axis: Axis,
  ) {
    this.axis = axis;
    this.surface = h("canvas", { class: "nni-surface nni-gesture-canvas", "data-testid": "nni-gesture-canvas" });
    this.stage = h("div", { class: "nni-stage" }, [this.imageLayer.canvas, this.overlayLayer.canvas, this.surface]);
    this.slider = h("input", { type: "range", class: "nni-slider", "data-testid": "nni-slice-slider", min: "0", step: "1" });
    this.caption = h("span", { class: "nni-view-caption" });
    this.el = h("div", { class: "nni-view", "data-testid": "nni-view" }, [
      this.stage,
      h("div", { class: "nni-view-footer" }, [this.caption, this.slider]),
    ]);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.bindEvents();
    this.setAxis(axis);
  }

  private get model(): AnyModel<WidgetTraits> {
    return this.host.model;
  }

  /** Geometry of this view now. */
  params(): PlaneParams {
    return {
      axis: this.axis,
      shape: this.model.get("shape"),
      spacingMm: this.model.get("spacing_mm"),
      width: this.size.width,
      height: this.size.height,
      view: this.view,
    };
  }

  index(): number {
    return this.model.get("slice_index")[this.axis];
  }

  setAxis(axis: Axis): void {
    if (axis !== this.axis) this.host.loader.unfocus(this.axis);
    this.axis = axis;
    this.view = { ...IDENTITY_VIEW };
    this.shownIndex = -1;
    this.imageLayer.show(false);
    this.overlayDirty = true;
    this.placementDirty = true;
    this.surfaceDirty = true;
    this.gesture = null;
    this.el.dataset.axis = String(axis);
    this.syncSlice(0);
  }

  /** The slice index changed (or the shape): update the slider, fetch, redraw. */
  syncSlice(direction: number): void {
    const size = this.model.get("shape")[this.axis];
    const index = this.index();
    this.slider.max = String(size - 1);
    this.slider.value = String(index);
    this.caption.textContent = `${AXIS_NAMES[this.axis]} ${index + 1} / ${size}`;
    this.el.dataset.index = String(index);
    this.host.loader.focus(this.axis, index, size, direction);
    this.invalidateImage();
  }

  /** Step the slice by `delta`, clamped. */
  step(delta: number): void {
    const size = this.model.get("shape")[this.axis];
    const index = Math.min(size - 1, Math.max(0, this.index() + delta));
    if (index !== this.index()) this.host.setSliceIndex(this.axis, index);
  }

  zoomBy(factor: number, x = this.size.width / 2, y = this.size.height / 2): void {
    this.setView(zoomAbout(this.params(), x, y, factor));
  }

  resetView(): void {
    this.setView({ ...IDENTITY_VIEW });
  }

  private setView(view: ViewState): void {
    this.view = view;
    this.placementDirty = true;
    this.surfaceDirty = true;
    this.schedule();
  }

  cancelGesture(): boolean {
    const had = this.gesture !== null;
    this.gesture = null;
    this.invalidateSurface();
    return had;
  }

  /** Re-window the slice on the next frame (new slice data, window or index). */
  invalidateImage(): void {
    this.imageDirty = true;
    this.schedule();
  }

  /** Re-colour the overlay on the next frame (labels, objects or style changed). */
  invalidateOverlay(): void {
    this.overlayDirty = true;
    this.schedule();
  }

  /** Redraw gestures, pending prompts and the crosshair on the next frame. */
  invalidateSurface(): void {
    this.surfaceDirty = true;
    this.schedule();
  }

  /** Page rectangle of the view's drawing area. */
  stageRect(): DOMRect {
    return this.stage.getBoundingClientRect();
  }

  /** Index of the slice whose pixels are on screen (-1 before the first one arrives). */
  get shown(): number {
    return this.shownIndex;
  }

  private renderImage(): void {
    const index = this.index();
    const slice = this.host.loader.get(this.axis, index);
    if (!slice) return;
    const [nP, nQ] = slice.shape;
    this.imageLayer.paint(nQ, nP, (pixels) => windowSlice(slice.data, this.model.get("window"), pixels));
    if (this.shownIndex < 0) {
      this.imageLayer.show(true);
      this.placementDirty = true;
    }
    if (this.shownIndex !== index) {
      this.overlayDirty = true;
      this.surfaceDirty = true;
    }
    this.shownIndex = index;
    this.el.dataset.shownIndex = String(index);
  }

  private renderOverlay(): void {
    const index = this.shownIndex >= 0 ? this.shownIndex : this.index();
    const { labels } = this.host;
    const [nP, nQ] = planeShape(this.axis, labels.shape);
    this.overlayVoxels = 0;
    if (!labels.empty && index < labels.shape[this.axis]) {
      this.labelScratch = labelSlice(labels.volume, labels.shape, this.axis, index, this.labelScratch);
      const colours = colourTable(this.model.get("objects") ?? [], this.host.hiddenObjects, {
        opacity: this.model.get("opacity"),
        outline: this.model.get("outline"),
        show: this.model.get("show_masks"),
      });
      const scratch = this.labelScratch;
      this.overlayLayer.paint(nQ, nP, (pixels) => (this.overlayVoxels = renderOverlay(scratch, nP, nQ, colours, pixels)));
      this.placementDirty = true;
    }
    // An empty overlay is hidden rather than cleared: nothing to composite while scrolling.
    this.overlayLayer.show(this.overlayVoxels > 0);
    this.el.dataset.overlayVoxels = String(this.overlayVoxels);
  }


  /** Redraw on the next animation frame. */
  schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
    this.host.loader.unfocus(this.axis);
    for (const cleanup of this.cleanups) cleanup();
    this.el.remove();
  }

  private resize(): void {
    const rect = this.stage.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.size = { width: Math.max(1, rect.width), height: Math.max(1, rect.height) };
    this.surface.width = Math.round(this.size.width * ratio);
    this.surface.height = Math.round(this.size.height * ratio);
    this.placementDirty = true;
    this.surfaceDirty = true;
    this.draw();
  }

  private draw(): void {
    if (this.imageDirty) {
      this.imageDirty = false;
      this.renderImage();
    }
    if (this.overlayDirty) {
      this.overlayDirty = false;
      this.renderOverlay();
    }
    const params = this.params();
    if (this.placementDirty) {
      this.placementDirty = false;
      const matrix = layerMatrix(params);
      this.imageLayer.place(matrix);
      this.overlayLayer.place(matrix);
    }
    if (this.surfaceDirty) {
      this.surfaceDirty = false;
      this.drawSurface(params);
    }
    this.host.drawn?.(this);
  }

  private drawSurface(params: PlaneParams): void {
    const ctx = clearedContext(this.surface, this.size.width);
    if (this.model.get("view_layout") === "three") drawCrosshair(ctx, params, this.model.get("slice_index"));
    const width = scribbleWidth(this.axis, this.model.get("scribble_thickness"));
    for (const draft of this.host.pendingPrompts()) {
      if (draft.axis === this.axis && draft.index === this.index()) {
        drawGesture(ctx, params, { ...draft, path: draft.vertices }, { pending: true, scribbleWidth: width });
      }
    }
    if (this.gesture) drawGesture(ctx, params, this.gesture, { scribbleWidth: width });
  }

  private local(event: MouseEvent): [number, number] {
    const rect = this.surface.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  private listen<K extends keyof HTMLElementEventMap>(
    target: HTMLElement,
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
    target.addEventListener(type, guarded, options);
    this.cleanups.push(() => target.removeEventListener(type, guarded, options));
  }

  private bindEvents(): void {
    const surface = this.surface;
    this.listen(surface, "pointerdown", (event) => this.pointerDown(event));
    this.listen(surface, "pointermove", (event) => this.pointerMove(event));
    this.listen(surface, "pointerup", (event) => this.pointerUp(event));
    this.listen(surface, "pointercancel", () => this.cancelDrag());
    this.listen(surface, "pointerleave", () => this.host.cursor(null));
    this.listen(surface, "pointerenter", () => this.host.activate(this));
    this.listen(surface, "contextmenu", (event) => event.preventDefault());
    this.listen(surface, "wheel", (event) => this.wheel(event), { passive: false });
    this.listen(this.slider, "input", () => this.host.setSliceIndex(this.axis, Number(this.slider.value)));
  }

  private pointerDown(event: PointerEvent): void {
    event.preventDefault();
    this.host.activate(this);
    const [x, y] = this.local(event);
    if (event.button === 1 || (event.button === 0 && this.host.spaceHeld())) {
      this.drag = { kind: "pan", x, y, start: { ...this.view } };
    } else if (event.button === 2) {
      this.drag = { kind: "window", x, y, start: this.model.get("window") };
    } else if (event.button === 0) {
      const tool = this.model.get("tool");
      if (!(this.model.get("supported_tools") ?? [tool]).includes(tool)) {
        this.host.hint(`This model does not support the ${tool} tool.`);
        return;
      }
      const point = screenToVoxel(this.params(), x, y);
      this.gesture = startGesture(tool, this.model.get("positive"), this.axis, this.index(), this.model.get("shape"), point);
      if (!this.gesture) return;
    } else {
      return;
    }
    this.surface.setPointerCapture(event.pointerId);
    this.invalidateSurface();
  }

  private pointerMove(event: PointerEvent): void {
    const [x, y] = this.local(event);
    this.readout(x, y);
    if (this.drag?.kind === "pan") {
      this.setView({ ...this.drag.start, panX: this.drag.start.panX + x - this.drag.x, panY: this.drag.start.panY + y - this.drag.y });
    } else if (this.drag?.kind === "window") {
      this.host.setWindow(dragWindow(this.drag.start, x - this.drag.x, y - this.drag.y, this.model.get("intensity_stats")), false);
    } else if (this.gesture) {
      for (const sample of event.getCoalescedEvents?.() ?? [event]) {
        const [sx, sy] = this.local(sample);
        extendGesture(this.gesture, screenToVoxel(this.params(), sx, sy));
      }
      this.invalidateSurface();
    }
  }

  private pointerUp(event: PointerEvent): void {
    if (this.drag?.kind === "window") this.host.setWindow(this.model.get("window"), true);
    this.drag = null;
    const gesture = this.gesture;
    this.gesture = null;
    if (gesture) {
      const { draft, reason } = finishGesture(gesture, this.model.get("shape"));
      if (draft) this.host.submit(draft);
      else this.host.hint(reason);
    }
    if (this.surface.hasPointerCapture(event.pointerId)) this.surface.releasePointerCapture(event.pointerId);
    this.invalidateSurface();
  }

  private cancelDrag(): void {
    this.drag = null;
    this.gesture = null;
    this.invalidateSurface();
  }

  private wheel(event: WheelEvent): void {
    event.preventDefault();
    const [x, y] = this.local(event);
    const pixels = event.deltaY * (event.deltaMode === 1 ? 40 : event.deltaMode === 2 ? 800 : 1);
    if (event.ctrlKey || event.metaKey) {
      this.zoomBy(Math.exp(-pixels * 0.0025), x, y);
      return;
    }
    this.wheelRemainder += pixels;
    const steps = Math.trunc(this.wheelRemainder / 50);
    if (steps !== 0) {
      this.wheelRemainder -= steps * 50;
      this.step(-steps * (event.shiftKey ? 5 : 1));
    }
  }

  private readout(x: number, y: number): void {
    const params = this.params();
    const point = screenToVoxel(params, x, y);
    if (!insidePlane(this.axis, params.shape, point)) {
      this.host.cursor(null);
      return;
    }
    const [nP, nQ] = planeShape(this.axis, params.shape);
    const p = nearestIndex(point[0], nP);
    const q = nearestIndex(point[1], nQ);
    const voxel = planeToVolume(this.axis, this.index(), p, q);
    const slice = this.host.loader.get(this.axis, this.index());
    const labels = this.host.labels;
    const label = labels.volume[(voxel[0] * labels.shape[1] + voxel[1]) * labels.shape[2] + voxel[2]] ?? 0;
    this.host.cursor({ voxel, value: slice ? slice.data[p * nQ + q] : null, label });
  }
}
