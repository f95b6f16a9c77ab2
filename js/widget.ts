/**
 * anywidget entry for nni_jupyter's Segmenter: `render({ model, el })` builds one widget view
 * and returns its cleanup. All state lives in the closure (module scope is shared between views).
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import "./widget.css";
import { TRAIT_NAMES, type TraitName } from "./contract.gen";
import { type KeyActions, handleKey } from "./keys";
import { LabelVolume } from "./labels";
import { KernelLink, type WidgetStats } from "./link";
import { SliceLoader } from "./slices";
import { TileLoader, type TileRecord } from "./tiles";
import { voxelToScreen } from "./transform";
import { rowTarget } from "./promptlist";
import type { Axis, IncomingMsg, Layout, OutgoingMsg, PromptRow, Tool, WidgetTraits } from "./types";
import { Ui, type UiHandlers } from "./ui";
import type { CursorReadout } from "./pointer";
import { SliceView, type ViewHost } from "./view";
import { type WindowLevel, autoWindow, matchingPreset, presetWindow } from "./window";

/**
 * What the end-to-end tests and browser benchmarks read from the page, as
 * `document.querySelector('.nni-root').nni`: timings, and where a voxel of a view is on screen.
 */
export interface TestHooks {
  stats: WidgetStats;
  /** Refined tiles of zoomed-in views that arrived, newest last. */
  tiles: readonly TileRecord[];
  /** Client (page) coordinates of in-plane voxel `(p, q)` in view `viewIndex`. */
  toClient(viewIndex: number, p: number, q: number): [number, number];
}

function createWidget(model: AnyModel<WidgetTraits>, el: HTMLElement): () => void {
  const cleanups: (() => void)[] = [];
  const send = (msg: OutgoingMsg) => model.send(msg);
  const loader: SliceLoader = new SliceLoader({
    send,
    nextRequestId: (): number => link.newRequestId(),
    error: (message) => showError(message),
  });
  const tiles: TileLoader = new TileLoader({
    send,
    nextRequestId: (): number => link.newRequestId(),
    error: (message) => showError(message),
  });
  const labels = new LabelVolume(model.get("shape"));
  const link: KernelLink = new KernelLink(
    send,
    loader,
    labels,
    {
      error: showError,
      pendingChanged: () => views.forEach((view) => view.invalidateSurface()),
    },
    tiles,
  );
  const stats = link.stats;
  const hiddenObjects = new Set<number>();
  let localError = "";
  let spaceHeld = false;
  let views: SliceView[] = [];
  let activeView: SliceView | null = null;
  let hoveredPrompt: PromptRow | null = null;

  /**
   * Set a trait and send it at once. Never set without saving: the kernel echoes every update,
   * and the echo of an earlier send would overwrite a newer value held back locally (the view
   * jumped back while scrolling). ipywidgets itself holds sends back while one is in flight and
   * drops echoes older than the newest send.
   */
  function setTrait<K extends keyof WidgetTraits>(name: K, value: WidgetTraits[K]): void {
    model.set(name, value);
    model.save_changes();
  }

  function setSpaceHeld(held: boolean): void {
    spaceHeld = held;
    root.toggleAttribute("data-pan", held);
  }

  function showError(message: string): void {
    localError = message;
    refreshUi();
  }

  const handlers: UiHandlers = {
    tool: (tool: Tool) => setTrait("tool", tool),
    togglePolarity: () => setTrait("positive", !model.get("positive")),
    command: (name, object) => link.command(name, object),
    axis: (axis: Axis) => {
      model.set("axis", axis);
      setTrait("view_layout", "single");
    },
    layout: (layout: Layout) => setTrait("view_layout", layout),
    preset: (id: string) => setTrait("window", presetWindow(id, model.get("intensity_stats"))),
    showMasks: (show: boolean) => setTrait("show_masks", show),
    outline: (outline: boolean) => setTrait("outline", outline),
    opacity: (value: number) => setTrait("opacity", value),
    toggleObject: (id: number) => {
      if (hiddenObjects.has(id)) hiddenObjects.delete(id);
      else hiddenObjects.add(id);
      views.forEach((view) => view.invalidateOverlay());
      refreshUi();
    },
    fit: () => views.forEach((view) => view.resetView()),
    help: () => ui.toggleHelp(),
    hover: (row) => {
      hoveredPrompt = row;
      views.forEach((view) => view.invalidateSurface());
    },
    go: (row) => {
      const target = rowTarget(row, model.get("slice_index"));
      model.set("slice_index", target.sliceIndex);
      if (target.axis !== null && model.get("view_layout") === "single") model.set("axis", target.axis);
      model.save_changes();
      syncSliceIndex();
    },
    remove: (row) => link.removePrompt(model.get("active_object"), row.index, row.sequence),
    dismissError: () => {
      localError = "";
      dismissedTraitError = model.get("error");
      refreshUi();
    },
  };
  let dismissedTraitError = "";
  const ui = new Ui(handlers);
  const root = ui.root;
  const hooks: TestHooks = {
    stats,
    tiles: tiles.received,
    toClient: (viewIndex, p, q) => {
      const view = views[viewIndex];
      const [x, y] = voxelToScreen(view.params(), [p, q]);
      const rect = view.stageRect();
      return [rect.left + x, rect.top + y];
    },
  };
  (root as HTMLElement & { nni?: TestHooks }).nni = hooks;
  el.append(root);

  function refreshUi(): void {
    const traitError = model.get("error") ?? "";
    const error = localError || (traitError !== dismissedTraitError ? traitError : "");
    ui.update({
      traits: readTraits(model),
      hidden: hiddenObjects,
      preset: matchingPreset(model.get("window"), model.get("intensity_stats")),
      error,
    });
  }

  const host: ViewHost = {
    model,
    loader,
    tiles,
    labels,
    hiddenObjects,
    spaceHeld: () => spaceHeld,
    pendingPrompts: () => link.pendingPrompts(),
    hoveredPrompt: () => hoveredPrompt,
    setSliceIndex: (axis, index) => {
      const next = [...model.get("slice_index")] as WidgetTraits["slice_index"];
      next[axis] = index;
      setTrait("slice_index", next);
      // Change events may arrive a task later; move the views now, so a scroll step costs one frame.
      syncSliceIndex();
    },
    setWindow: (window: WindowLevel) => setTrait("window", window),
    submit: (prompt) => link.submit(prompt),
    hint: (text) => ui.hint(text),
    error: showError,
    cursor: (readout) => ui.setCursor(readout ? formatReadout(readout, model.get("image_dtype")) : ""),
    activate: (view) => (activeView = view),
    drawn: (view) => {
      if (stats.first_slice_ms === undefined && view.shown >= 0)
        stats.first_slice_ms = performance.now() - stats.rendered_ms;
    },
  };

  function buildViews(): void {
    views.forEach((view) => view.destroy());
    const axes: Axis[] = model.get("view_layout") === "three" ? [0, 1, 2] : [model.get("axis")];
    views = axes.map((axis) => new SliceView(host, axis));
    activeView = views[0];
    ui.viewport.dataset.layout = model.get("view_layout");
    ui.viewport.replaceChildren(...views.map((view) => view.el));
  }

  const messageHandler = (msg: IncomingMsg, buffers: DataView[]) => link.handle(msg, buffers);
  model.on("msg:custom", messageHandler);
  cleanups.push(() => model.off("msg:custom", messageHandler));

  cleanups.push(
    loader.onSlice((slice) => {
      for (const view of views) if (view.axis === slice.axis && view.index() === slice.index) view.invalidateImage();
    }),
  );
  cleanups.push(tiles.onTile((tile) => views.forEach((view) => view.tileArrived(tile))));
  cleanups.push(
    labels.onChange((bbox) => {
      for (const view of views) {
        const index = view.shown >= 0 ? view.shown : view.index();
        if (!bbox || (bbox[view.axis][0] <= index && index < bbox[view.axis][1])) view.invalidateOverlay();
      }
    }),
  );

  let lastSliceIndex = [...model.get("slice_index")];
  function syncSliceIndex(): void {
    const next = model.get("slice_index");
    if (next.every((index, axis) => index === lastSliceIndex[axis])) return;
    for (const view of views) view.syncSlice(next[view.axis] - lastSliceIndex[view.axis]);
    if (model.get("view_layout") === "three") views.forEach((view) => view.invalidateSurface());
    lastSliceIndex = [...next];
  }
  const on = (names: readonly TraitName[], callback: () => void) => {
    for (const name of names) {
      model.on(`change:${name}`, callback);
      cleanups.push(() => model.off(`change:${name}`, callback));
    }
  };
  on(["slice_index"], syncSliceIndex);
  on(["axis", "view_layout"], () => {
    buildViews();
    refreshUi();
  });
  on(["window"], () => {
    views.forEach((view) => view.invalidateImage());
    refreshUi();
  });
  on(["objects", "opacity", "outline", "show_masks"], () => {
    views.forEach((view) => view.invalidateOverlay());
    refreshUi();
  });
  on(
    ["tool", "positive", "busy", "pending", "error", "model_info", "supported_tools", "active_object", "prompt_list"],
    () => {
      if (model.get("error") === "") dismissedTraitError = "";
      refreshUi();
    },
  );
  on(["shape"], () => {
    loader.clear();
    tiles.clear();
    labels.resize(model.get("shape"));
    link.requestLabels();
    buildViews();
  });

  const keyActions: KeyActions = {
    tool: handlers.tool,
    togglePolarity: handlers.togglePolarity,
    command: (name) => link.command(name),
    toggleHelp: () => ui.toggleHelp(),
    escape: () => {
      if (!views.some((view) => view.cancelGesture())) ui.toggleHelp(false);
    },
    step: (delta) => (activeView ?? views[0])?.step(delta),
    zoom: (factor) => (activeView ?? views[0])?.zoomBy(factor),
    fit: handlers.fit,
    axis: handlers.axis,
    toggleLayout: () => handlers.layout(model.get("view_layout") === "three" ? "single" : "three"),
    toggleOutline: () => handlers.outline(!model.get("outline")),
    toggleMasks: () => handlers.showMasks(!model.get("show_masks")),
    setSpace: setSpaceHeld,
  };

  cleanups.push(bindKeys());

  function bindKeys(): () => void {
    const keydown = (event: KeyboardEvent) => {
      if (handleKey(event, keyActions)) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    const keyup = (event: KeyboardEvent) => {
      if (event.key === " ") setSpaceHeld(false);
    };
    const blur = () => setSpaceHeld(false);
    root.addEventListener("keydown", keydown);
    root.addEventListener("keyup", keyup);
    root.addEventListener("blur", blur);
    // Focus the widget when the pointer goes down in it, so its keys work at once.
    const focus = (event: PointerEvent) => {
      const target = event.target as HTMLElement;
      if (!target.closest("input, select, button")) root.focus({ preventScroll: true });
    };
    root.addEventListener("pointerdown", focus);
    return () => {
      root.removeEventListener("keydown", keydown);
      root.removeEventListener("keyup", keyup);
      root.removeEventListener("blur", blur);
      root.removeEventListener("pointerdown", focus);
    };
  }

  // First paint: the visible slice is requested before anything else.
  buildViews();
  const window0 = model.get("window");
  if (!window0 || !(window0[1] > 0)) {
    const statsNow = model.get("intensity_stats");
    if (statsNow) setTrait("window", autoWindow(statsNow));
  }
  link.requestLabels();
  refreshUi();

  return () => {
    cleanups.forEach((cleanup) => cleanup());
    views.forEach((view) => view.destroy());
    ui.dispose();
  };
}

function readTraits(model: AnyModel<WidgetTraits>): WidgetTraits {
  return Object.fromEntries(TRAIT_NAMES.map((name) => [name, model.get(name)])) as unknown as WidgetTraits;
}

function formatReadout({ voxel, value, label }: CursorReadout, dtype: string): string {
  const position = `x ${voxel[0]}  y ${voxel[1]}  z ${voxel[2]}`;
  const shown =
    value === null ? "…" : dtype.startsWith("float") ? Number(value.toPrecision(5)).toString() : String(value);
  return `${position}   = ${shown}${label ? `   object ${label}` : ""}`;
}

function render({ model, el }: RenderProps<WidgetTraits>): () => void {
  return createWidget(model, el);
}

export default { render };
