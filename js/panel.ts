/**
 * One displayed copy of the Segmenter (anywidget's `render`, once per view): toolbar, slice
 * views, keys and pointer, drawn from the model's traits and the shared `Store`. What is this
 * view's own: the objects it hides, the prompt row under its pointer, a held space bar, and the
 * errors it has dismissed. `dispose` lets go of every listener it added to the model and store.
 */
import { clampRadius, drawStroke, isBrushTool, stepRadius } from "./brush";
import type { Prompt } from "./gestures";
import { type KeyActions, bindKeys } from "./keys";
import type { WidgetStats } from "./link";
import { formatReadout } from "./pointer";
import { rowTarget } from "./promptlist";
import type { Store } from "./store";
import type { TileRecord } from "./tiles";
import { type Model, onTraits, readTraits, saveTrait } from "./traits";
import { voxelToScreen } from "./transform";
import type { Axis, PromptRow, WidgetTraits } from "./types";
import { Ui, type UiHandlers } from "./ui";
import type { ViewHost } from "./view";
import { Viewport } from "./viewport";
import { matchingPreset, presetWindow } from "./windows";

/**
 * What the end-to-end tests and browser benchmarks read from the page, as
 * `document.querySelector('.nni-root').nni`: timings, and where a voxel of a view is on screen.
 */
export interface TestHooks {
  /** The model's timings (shared by its views). */
  stats: WidgetStats;
  /** Refined tiles of zoomed-in views that arrived, newest last. */
  tiles: readonly TileRecord[];
  /** Client (page) coordinates of in-plane voxel `(p, q)` in view `viewIndex`. */
  toClient(viewIndex: number, p: number, q: number): [number, number];
  /** Listeners on the shared store now (two per mounted view): unmounted views let go. */
  storeListeners(): number;
}

export class Panel {
  private readonly ui: Ui;
  private readonly viewport: Viewport;
  private readonly hidden = new Set<number>();
  private hovered: PromptRow | null = null;
  private spaceHeld = false;
  private error = "";
  private dismissedTraitError = "";
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly model: Model,
    el: HTMLElement,
  ) {
    const handlers = this.handlers();
    this.ui = new Ui(handlers);
    this.viewport = new Viewport(model, this.ui.viewport, this.host());
    (this.ui.root as HTMLElement & { nni?: TestHooks }).nni = this.hooks();
    el.append(this.ui.root);
    this.cleanups.push(
      this.viewport.listen(store),
      store.onError((message) => this.showError(message)),
      this.watchTraits(),
      bindKeys(this.ui.root, this.keyActions(handlers)),
    );
    // First paint: the visible slice is asked for before anything else.
    this.viewport.build();
    store.viewShown();
    this.refresh();
  }

  dispose(): void {
    this.cleanups.forEach((cleanup) => cleanup());
    this.viewport.destroy();
    this.ui.dispose();
  }

  private set<K extends keyof WidgetTraits>(name: K, value: WidgetTraits[K]): void {
    saveTrait(this.model, name, value);
  }

  private showError(message: string): void {
    this.error = message;
    this.refresh();
  }

  private setSpaceHeld(held: boolean): void {
    this.spaceHeld = held;
    this.ui.root.toggleAttribute("data-pan", held);
  }

  private refresh(): void {
    const traitError = this.model.get("error") ?? "";
    const error = this.error || (traitError !== this.dismissedTraitError ? traitError : "");
    this.ui.update({
      traits: readTraits(this.model),
      hidden: this.hidden,
      preset: matchingPreset(this.model.get("window"), this.model.get("intensity_stats")),
      error,
    });
  }

  /** What the toolbar, object strip and prompt list do. */
  private handlers(): UiHandlers {
    const { model, store } = this;
    return {
      tool: (tool) => this.set("tool", tool),
      togglePolarity: () => this.set("positive", !model.get("positive")),
      command: (name, object) => store.link.command(name, object),
      axis: (axis: Axis) => {
        model.set("axis", axis);
        this.set("view_layout", "single");
      },
      layout: (layout) => this.set("view_layout", layout),
      preset: (id) => this.set("window", presetWindow(id, model.get("intensity_stats"))),
      showMasks: (show) => this.set("show_masks", show),
      outline: (outline) => this.set("outline", outline),
      opacity: (value) => this.set("opacity", value),
      brushRadius: (value) => this.set("brush_radius", clampRadius(value)),
      brushUnit: (unit) => this.set("brush_unit", unit),
      toggleObject: (id) => {
        if (!this.hidden.delete(id)) this.hidden.add(id);
        this.viewport.invalidateOverlays();
        this.refresh();
      },
      fit: () => this.viewport.views.forEach((view) => view.resetView()),
      help: () => this.ui.toggleHelp(),
      hover: (row) => {
        this.hovered = row;
        this.viewport.invalidateSurfaces();
      },
      go: (row) => this.go(row),
      remove: (row) => store.link.removePrompt(model.get("active_object"), row.index, row.sequence),
      dismissError: () => {
        this.error = "";
        this.dismissedTraitError = model.get("error");
        this.refresh();
      },
    };
  }

  /** Send a prompt; a brush or eraser stroke is drawn into the labels at once. */
  private submit(prompt: Prompt): void {
    const { model, store } = this;
    if (!isBrushTool(prompt.tool) || !prompt.radius) {
      store.link.submit(prompt);
      return;
    }
    const stroke = { ...prompt, tool: prompt.tool, radius: prompt.radius };
    const revert = drawStroke(store.labels, stroke, model.get("active_object"), model.get("overlap"));
    store.link.submit(prompt, revert);
  }

  /** Grow (+1) or shrink (-1) the brush, and say its size. */
  private brushSize(direction: 1 | -1): void {
    const radius = stepRadius(this.model.get("brush_radius") ?? 3, direction);
    this.set("brush_radius", radius);
    const unit = this.model.get("brush_unit") === "mm" ? "mm" : "voxels";
    this.ui.hint(`Brush radius ${radius} ${unit}`);
    this.viewport.invalidateSurfaces();
  }

  /** Show the slice (and axis) a prompt row lies on. */
  private go(row: PromptRow): void {
    const target = rowTarget(row, this.model.get("slice_index"));
    this.model.set("slice_index", target.sliceIndex);
    if (target.axis !== null && this.model.get("view_layout") === "single") this.model.set("axis", target.axis);
    this.model.save_changes();
    this.viewport.syncSliceIndex();
  }

  private keyActions(handlers: UiHandlers): KeyActions {
    const { model, viewport } = this;
    return {
      tool: handlers.tool,
      togglePolarity: handlers.togglePolarity,
      command: (name) => this.store.link.command(name),
      toggleHelp: () => this.ui.toggleHelp(),
      escape: () => {
        if (!viewport.cancelGesture()) this.ui.toggleHelp(false);
      },
      step: (delta) => viewport.current?.step(delta),
      zoom: (factor) => viewport.current?.zoomBy(factor),
      fit: handlers.fit,
      axis: handlers.axis,
      toggleLayout: () => handlers.layout(model.get("view_layout") === "three" ? "single" : "three"),
      toggleOutline: () => handlers.outline(!model.get("outline")),
      toggleMasks: () => handlers.showMasks(!model.get("show_masks")),
      setSpace: (held) => this.setSpaceHeld(held),
      brushSize: (direction) => this.brushSize(direction),
    };
  }

  /** What each slice view needs from the widget around it. */
  private host(): ViewHost {
    const { model, store } = this;
    return {
      model,
      loader: store.loader,
      tiles: store.tiles,
      labels: store.labels,
      hiddenObjects: this.hidden,
      spaceHeld: () => this.spaceHeld,
      pendingPrompts: () => store.link.pendingPrompts(),
      hoveredPrompt: () => this.hovered,
      setSliceIndex: (axis, index) => {
        const next = [...model.get("slice_index")] as WidgetTraits["slice_index"];
        next[axis] = index;
        this.set("slice_index", next);
        // Change events may arrive a task later; move the views now, so a scroll step costs one frame.
        this.viewport.syncSliceIndex();
      },
      setWindow: (window) => this.set("window", window),
      submit: (prompt) => this.submit(prompt),
      brushSize: (direction) => this.brushSize(direction),
      hint: (text) => this.ui.hint(text),
      error: (message) => this.showError(message),
      cursor: (readout) => this.ui.setCursor(readout ? formatReadout(readout, model.get("image_dtype")) : ""),
      activate: (view) => this.viewport.activate(view),
      drawn: (view) => {
        if (view.shown >= 0) store.drawn();
      },
    };
  }

  /** Redraw and refresh on trait changes; returns the unsubscribe function. */
  private watchTraits(): () => void {
    const { model, viewport } = this;
    const rebuild = () => {
      viewport.build();
      this.refresh();
    };
    return joined([
      onTraits(model, ["slice_index"], () => viewport.syncSliceIndex()),
      onTraits(model, ["axis", "view_layout"], rebuild),
      // The store reshapes its caches first (its listener was added before any view's).
      onTraits(model, ["shape"], () => viewport.build()),
      // the brush cursor follows the tool and its size
      onTraits(model, ["tool", "brush_radius", "brush_unit"], () => viewport.invalidateSurfaces()),
      onTraits(model, ["window"], () => {
        viewport.invalidateImages();
        this.refresh();
      }),
      onTraits(model, ["objects", "opacity", "outline", "show_masks"], () => {
        viewport.invalidateOverlays();
        this.refresh();
      }),
      onTraits(
        model,
        [
          "tool",
          "brush_radius",
          "brush_unit",
          "positive",
          "busy",
          "pending",
          "error",
          "model_info",
          "supported_tools",
          "active_object",
          "prompt_list",
        ],
        () => {
          if (model.get("error") === "") this.dismissedTraitError = "";
          this.refresh();
        },
      ),
    ]);
  }

  private hooks(): TestHooks {
    return {
      stats: this.store.stats,
      tiles: this.store.tiles.received,
      toClient: (viewIndex, p, q) => {
        const view = this.viewport.views[viewIndex];
        const [x, y] = voxelToScreen(view.params(), [p, q]);
        const rect = view.stageRect();
        return [rect.left + x, rect.top + y];
      },
      storeListeners: () => this.store.listenerCount,
    };
  }
}

function joined(cleanups: (() => void)[]): () => void {
  return () => cleanups.forEach((cleanup) => cleanup());
}
