/**
 * One slice view: three stacked canvases (image and mask overlay at slice resolution, gestures at
 * screen resolution) and a slice slider. Pointer input lives in `pointer.ts`.
 */
import type { AnyModel } from "@anywidget/types";
import { SliceLayer, clearedContext, drawCrosshair } from "./layers";
import { colourTable, labelSlice, renderOverlay } from "./overlay";
import { type PointerHost, ViewPointer } from "./pointer";
import { type Prompt, drawBrushCursor, drawGesture, scribbleWidth } from "./gestures";
import { isBrushTool } from "./brush";
import { brushRadius } from "./pointer";
import { IDENTITY_VIEW, type PlaneParams, type ViewState, layerMatrix, planeShape, zoomAbout } from "./transform";
import { rowOutline } from "./promptlist";
import { refineWant, tileMatrix } from "./refine";
import type { Tile, TileLoader } from "./tiles";
import type { Axis, LabelArray, PromptRow, WidgetTraits } from "./types";
import { h } from "./dom";
import { windowSlice } from "./windows";

export const AXIS_NAMES = ["X", "Y", "Z"] as const;
/** A zoomed view asks for its refined tile this long after the last zoom, pan or scroll. */
export const REFINE_DELAY_MS = 150;

/** What a view needs from the widget around it. */
export interface ViewHost extends PointerHost {
  hiddenObjects: ReadonlySet<number>;
  pendingPrompts(): Iterable<Prompt>;
  /** The prompt-list row under the pointer, outlined in every view where it lies. */
  hoveredPrompt(): PromptRow | null;
  /** Refined tiles of zoomed-in views of decimated slices. */
  tiles: TileLoader;
  setSliceIndex(axis: Axis, index: number): void;
  activate(view: SliceView): void;
  /** Called after each redraw. */
  drawn?(view: SliceView): void;
}

export class SliceView {
  readonly el: HTMLElement;
  axis: Axis;
  view: ViewState = { ...IDENTITY_VIEW };
  private readonly stage: HTMLElement;
  private readonly imageLayer = new SliceLayer("image");
  /** A finer tile of the shown slice over the coarse one, while zoomed in (lazy images). */
  private readonly refinedLayer = new SliceLayer("refined");
  private tile: Tile | null = null;
  /** What the refined layer holds now (a window change or another tile repaints it). */
  private painted: { tile: Tile | null; windowLevel: [number, number] | null } = { tile: null, windowLevel: null };
  private tileDirty = false;
  private refineTimer = 0;
  private readonly overlayLayer = new SliceLayer("overlay");
  /** Gestures, pending prompts and the crosshair, at screen resolution; takes the pointer events. */
  private readonly surface: HTMLCanvasElement;
  private readonly slider: HTMLInputElement;
  /** The footer's "Z 12 / 300": one text node whose data changes (no node churn per step). */
  private readonly caption = document.createTextNode("");
  private shownIndex = -1;
  private imageDirty = true;
  private overlayDirty = true;
  private placementDirty = true;
  private surfaceDirty = true;
  private overlayVoxels = 0;
  private labelScratch: LabelArray | undefined;
  private size = { width: 1, height: 1 };
  private readonly pointer: ViewPointer;
  private frame = 0;
  private readonly resizeObserver: ResizeObserver;
  private readonly sliderInput = () => this.host.setSliceIndex(this.axis, Number(this.slider.value));

  constructor(
    private readonly host: ViewHost,
    axis: Axis,
  ) {
    this.axis = axis;
    this.surface = h("canvas", { class: "nni-surface nni-gesture-canvas", "data-testid": "nni-gesture-canvas" });
    this.stage = h("div", { class: "nni-stage" }, [
      this.imageLayer.canvas,
      this.refinedLayer.canvas,
      this.overlayLayer.canvas,
      this.surface,
    ]);
    this.slider = h("input", {
      type: "range",
      class: "nni-slider",
      "data-testid": "nni-slice-slider",
      min: "0",
      step: "1",
    });
    this.el = h("div", { class: "nni-view", "data-testid": "nni-view" }, [
      this.stage,
      h("div", { class: "nni-view-footer" }, [h("span", { class: "nni-view-caption" }, [this.caption]), this.slider]),
    ]);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.pointer = new ViewPointer(this.surface, this, host);
    this.slider.addEventListener("input", this.sliderInput);
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
    if (axis !== this.axis) this.host.loader.unfocus(this.axis, this);
    this.axis = axis;
    this.view = { ...IDENTITY_VIEW };
    this.shownIndex = -1;
    this.imageLayer.show(false);
    this.tileDirty = true;
    this.overlayDirty = true;
    this.placementDirty = true;
    this.pointer.cancel();
    this.surfaceDirty = true;
    this.el.dataset.axis = String(axis);
    this.syncSlice(0);
  }

  /** The slice index changed (or the shape): update the slider, fetch, redraw. */
  syncSlice(direction: number): void {
    const size = this.model.get("shape")[this.axis];
    const index = this.index();
    this.slider.max = String(size - 1);
    this.slider.value = String(index);
    this.caption.data = `${AXIS_NAMES[this.axis]} ${index + 1} / ${size}`;
    this.el.dataset.index = String(index);
    this.host.loader.focus(this.axis, index, size, direction, this);
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

  setView(view: ViewState): void {
    this.view = view;
    this.placementDirty = true;
    this.surfaceDirty = true;
    this.schedule();
    this.refineSoon();
  }

  /** A refined tile of this view's slice arrived. */
  tileArrived(tile: Tile): void {
    if (tile.axis === this.axis && tile.index === this.shownIndex) {
      this.tileDirty = true;
      this.schedule();
    }
  }

  /** Ask for a refined tile once the view has settled (zoom, pan and scroll restart the wait). */
  private refineSoon(): void {
    window.clearTimeout(this.refineTimer);
    this.refineTimer = window.setTimeout(() => this.refine(), REFINE_DELAY_MS);
  }

  private refine(): void {
    this.refineTimer = 0;
    const slice = this.shownIndex >= 0 ? this.host.loader.get(this.axis, this.shownIndex) : undefined;
    // while scrolling, the next slice's arrival asks again
    if (!slice || slice.stride <= 1 || this.shownIndex !== this.index()) return;
    const want = refineWant(this.params(), slice.stride, window.devicePixelRatio || 1);
    if (want) this.host.tiles.request(this.axis, this.shownIndex, want);
    this.tileDirty = true;
    this.schedule();
  }

  cancelGesture(): boolean {
    return this.pointer.cancel();
  }

  /** Make this the view that keys act on. */
  activate(): void {
    this.host.activate(this);
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
    const paint = (pixels: Uint32Array) => windowSlice(slice.data, this.model.get("window"), pixels);
    if (this.imageLayer.paint(nQ, nP, paint, slice.stride)) {
      this.placementDirty = true;
    }
    this.imageLayer.show(true);
    if (this.shownIndex !== index) {
      this.overlayDirty = true;
      this.surfaceDirty = true;
      this.refineSoon();
    }
    this.tileDirty = true; // a new slice or window: the tile goes, or is re-windowed
    this.shownIndex = index;
    this.el.dataset.shownIndex = String(index);
  }

  /**
   * Show the newest tile of the shown slice that is finer than it, while the zoom needs one
   * (stale tiles of other slices never show); re-window it with the coarse slice.
   */
  private renderTile(): void {
    const slice = this.shownIndex >= 0 ? this.host.loader.get(this.axis, this.shownIndex) : undefined;
    const want = slice && slice.stride > 1 && refineWant(this.params(), slice.stride, window.devicePixelRatio || 1);
    const { tiles } = this.host;
    // the tile that answers this view, else the newest of this slice (it covers part of it)
    const tile = want ? (tiles.find(this.axis, this.shownIndex, want) ?? tiles.find(this.axis, this.shownIndex)) : null;
    this.tile = tile && slice && tile.stride < slice.stride ? tile : null;
    const windowLevel = this.model.get("window");
    if (this.tile && (this.tile !== this.painted.tile || windowLevel !== this.painted.windowLevel)) {
      const [nP, nQ] = this.tile.shape;
      const data = this.tile.data;
      this.refinedLayer.paint(nQ, nP, (pixels) => windowSlice(data, windowLevel, pixels), this.tile.stride);
      this.painted = { tile: this.tile, windowLevel };
    }
    if (this.tile) this.placementDirty = true;
    this.refinedLayer.show(this.tile !== null);
    this.el.dataset.refinedStride = this.tile ? String(this.tile.stride) : "";
  }

  private renderOverlay(): void {
    const index = this.shownIndex >= 0 ? this.shownIndex : this.index();
    const { labels } = this.host;
    const [nP, nQ] = planeShape(this.axis, labels.shape);
    this.overlayVoxels = 0;
    if (!labels.empty && index < labels.shape[this.axis]) {
      this.labelScratch = labelSlice(labels.volume, labels.shape, this.axis, index, this.labelScratch);
      const style = {
        opacity: this.model.get("opacity"),
        outline: this.model.get("outline"),
        show: this.model.get("show_masks"),
      };
      const size = labels.volume instanceof Uint16Array ? 65536 : 256;
      const colours = colourTable(this.model.get("objects") ?? [], this.host.hiddenObjects, style, size);
      const scratch = this.labelScratch;
      const paint = (pixels: Uint32Array) => (this.overlayVoxels = renderOverlay(scratch, nP, nQ, colours, pixels));
      if (this.overlayLayer.paint(nQ, nP, paint)) this.placementDirty = true;
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
    window.clearTimeout(this.refineTimer);
    this.resizeObserver.disconnect();
    this.host.loader.unfocus(this.axis, this);
    this.pointer.dispose();
    this.slider.removeEventListener("input", this.sliderInput);
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
    this.refineSoon();
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
    if (this.tileDirty) {
      this.tileDirty = false;
      this.renderTile();
    }
    const params = this.params();
    if (this.placementDirty) {
      this.placementDirty = false;
      const matrix = layerMatrix(params);
      this.imageLayer.place(matrix);
      this.overlayLayer.place(matrix);
      if (this.tile) this.refinedLayer.place(tileMatrix(params, this.tile.region));
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
    for (const prompt of this.host.pendingPrompts()) {
      if (prompt.axis === this.axis && prompt.index === this.index()) {
        const style = { pending: true, scribbleWidth: width, brushRadius: prompt.radius };
        drawGesture(ctx, params, { ...prompt, path: prompt.vertices }, style);
      }
    }
    const hovered = this.host.hoveredPrompt();
    const outline = hovered && rowOutline(hovered, this.axis, this.index());
    if (outline) {
      drawGesture(ctx, params, outline, {
        pending: !outline.onSlice,
        scribbleWidth: width,
        brushRadius: outline.radius,
      });
    }
    const tool = this.model.get("tool");
    const radius = isBrushTool(tool) ? brushRadius(this.model, this.axis) : undefined;
    if (this.pointer.gesture)
      drawGesture(ctx, params, this.pointer.gesture, { scribbleWidth: width, brushRadius: radius });
    if (radius && this.pointer.hover) drawBrushCursor(ctx, params, this.pointer.hover, radius, tool === "erase");
  }
}
