/**
 * anywidget entry for nni_jupyter's Segmenter: `render({ model, el })` builds one widget view
 * and returns its cleanup. All state lives in the closure (module scope is shared between views).
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import "./widget.css";
import { LabelVolume } from "./labels";
import { SliceLoader } from "./slices";
import { type PromptDraft, TOOL_KEYS } from "./tools";
import { voxelToScreen } from "./transform";
import type { Axis, CommandName, IncomingMsg, Layout, OutgoingMsg, Tool, WidgetTraits } from "./types";
import { Ui, type UiHandlers } from "./ui";
import { type CursorReadout, SliceView, type ViewHost } from "./view";
import { type WindowLevel, autoWindow, matchingPreset, presetWindow } from "./window";

/** Timings of one prompt, for the benchmarks (see `TestHooks`). */
export interface PromptStats {
  request_id: number;
  tool: string;
  sent_ms: number;
  done_ms?: number;
  drawn_ms?: number;
  compute_s?: number;
  patch_bytes: number;
  patch_voxels: number;
  error?: string;
}

export interface WidgetStats {
  rendered_ms: number;
  first_slice_ms?: number;
  prompts: PromptStats[];
}

/**
 * What the end-to-end tests and browser benchmarks read from the page, as
 * `document.querySelector('.nni-root').nni`: timings, and where a voxel of a view is on screen.
 */
export interface TestHooks {
  stats: WidgetStats;
  /** Client (page) coordinates of in-plane voxel `(p, q)` in view `viewIndex`. */
  toClient(viewIndex: number, p: number, q: number): [number, number];
}

interface Pending {
  draft: PromptDraft;
  stats: PromptStats;
}

const SAVE_DELAY_MS = 150;
const STATS_KEPT = 500;

function createWidget(model: AnyModel<WidgetTraits>, el: HTMLElement): () => void {
  const cleanups: (() => void)[] = [];
  // Several views of one model all hear every message: request ids carry a per-view prefix.
  let nextRequest = Math.floor(Math.random() * 1e6) * 1000;
  const newRequestId = () => ++nextRequest;
  const send = (msg: OutgoingMsg) => model.send(msg);

  const loader = new SliceLoader({ send, nextRequestId: newRequestId });
  const labels = new LabelVolume(model.get("shape"));
  const hiddenObjects = new Set<number>();
  const pending = new Map<number, Pending>();
  const ownRequests = new Set<number>();
  const stats: WidgetStats = { rendered_ms: performance.now(), prompts: [] };
  let localError = "";
  let spaceHeld = false;
  let views: SliceView[] = [];
  let activeView: SliceView | null = null;
  let saveTimer = 0;

  const saveSoon = () => {
    if (!saveTimer) saveTimer = window.setTimeout(saveNow, SAVE_DELAY_MS);
  };
  function saveNow(): void {
    window.clearTimeout(saveTimer);
    saveTimer = 0;
    model.save_changes();
  }
  function setTrait<K extends keyof WidgetTraits>(name: K, value: WidgetTraits[K], soon = false): void {
    model.set(name, value);
    if (soon) saveSoon();
    else saveNow();
  }

  function sendCommand(name: CommandName, object?: number): void {
    const request_id = newRequestId();
    ownRequests.add(request_id);
    send(object === undefined ? { type: "command", name, request_id } : { type: "command", name, request_id, object });
  }

  function showError(message: string): void {
    localError = message;
    refreshUi();
  }

  const handlers: UiHandlers = {
    tool: (tool: Tool) => setTrait("tool", tool),
    togglePolarity: () => setTrait("positive", !model.get("positive")),
    command: sendCommand,
    axis: (axis: Axis) => {
      model.set("axis", axis);
      setTrait("view_layout", "single");
    },
    layout: (layout: Layout) => setTrait("view_layout", layout),
    preset: (id: string) => setTrait("window", presetWindow(id, model.get("intensity_stats"))),
    showMasks: (show: boolean) => setTrait("show_masks", show),
    outline: (outline: boolean) => setTrait("outline", outline),
    opacity: (value: number) => setTrait("opacity", value, true),
    toggleObject: (id: number) => {
      if (hiddenObjects.has(id)) hiddenObjects.delete(id);
      else hiddenObjects.add(id);
      views.forEach((view) => view.invalidateOverlay());
      refreshUi();
    },
    fit: () => views.forEach((view) => view.resetView()),
    help: () => ui.toggleHelp(),
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
    toClient: (viewIndex, p, q) => {
      const view = views[viewIndex];
      const [x, y] = voxelToScreen(view.params(), [p, q]);
      const rect = view.el.querySelector("canvas")!.getBoundingClientRect();
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
    labels,
    hiddenObjects,
    spaceHeld: () => spaceHeld,
    pendingPrompts: () => [...pending.values()].map((entry) => entry.draft),
    setSliceIndex: (axis, index) => {
      const next = [...model.get("slice_index")] as WidgetTraits["slice_index"];
      next[axis] = index;
      setTrait("slice_index", next, true);
    },
    setWindow: (window: WindowLevel, final: boolean) => setTrait("window", window, !final),
    submit: submitPrompt,
    hint: (text) => ui.hint(text),
    cursor: (readout) => ui.setCursor(readout ? formatReadout(readout, model.get("image_dtype")) : ""),
    activate: (view) => (activeView = view),
    drawn: (view) => {
      if (stats.first_slice_ms === undefined && view.shown >= 0) stats.first_slice_ms = performance.now() - stats.rendered_ms;
    },
  };

  function submitPrompt(draft: PromptDraft): void {
    const request_id = newRequestId();
    const entry: Pending = {
      draft,
      stats: { request_id, tool: draft.tool, sent_ms: performance.now(), patch_bytes: 0, patch_voxels: 0 },
    };
    pending.set(request_id, entry);
    stats.prompts.push(entry.stats);
    if (stats.prompts.length > STATS_KEPT) stats.prompts.shift();
    send({ type: "prompt", ...draft, request_id });
    views.forEach((view) => view.schedule());
  }

  function buildViews(): void {
    views.forEach((view) => view.destroy());
    const axes: Axis[] = model.get("view_layout") === "three" ? [0, 1, 2] : [model.get("axis")];
    views = axes.map((axis) => new SliceView(host, axis));
    activeView = views[0];
    ui.viewport.dataset.layout = model.get("view_layout");
    ui.viewport.replaceChildren(...views.map((view) => view.el));
  }

  function finishRequest(requestId: number, error?: string, computeS?: number): void {
    const entry = pending.get(requestId);
    pending.delete(requestId);
    ownRequests.delete(requestId);
    if (entry) {
      entry.stats.done_ms = performance.now();
      if (computeS !== undefined) entry.stats.compute_s = computeS;
      if (error) entry.stats.error = error;
      requestAnimationFrame(() => (entry.stats.drawn_ms = performance.now()));
    }
    views.forEach((view) => view.schedule());
  }

  function onMessage(msg: IncomingMsg, buffers: DataView[]): void {
    switch (msg.type) {
      case "slice":
        loader.handleReply(msg, buffers[0]);
        break;
      case "labels_reset":
        labels.reset();
        break;
      case "mask_patch": {
        const entry = msg.request_id === null ? undefined : pending.get(msg.request_id);
        if (entry) {
          entry.stats.patch_bytes += buffers[0]?.byteLength ?? 0;
          entry.stats.patch_voxels += msg.bbox.reduce((n, [lo, hi]) => n * (hi - lo), 1);
        }
        labels.patch(msg, buffers[0]).catch((error: Error) => showError(`Could not apply a mask update: ${error.message}`));
        break;
      }
      case "done":
        if (msg.request_id !== null) {
          const requestId = msg.request_id;
          labels.enqueue(() => finishRequest(requestId, undefined, msg.compute_s));
        }
        break;
      case "error":
        // Errors never go unseen: ours, and those of no request (a malformed message or Python call).
        if (msg.request_id === null) showError(msg.message);
        else if (loader.handleError(msg.request_id) || pending.has(msg.request_id) || ownRequests.has(msg.request_id)) {
          finishRequest(msg.request_id, msg.message);
          showError(msg.message);
        }
        break;
    }
  }
  const messageHandler = (msg: IncomingMsg, buffers: DataView[]) => {
    try {
      onMessage(msg, buffers);
    } catch (error) {
      showError(`Could not handle a ${msg?.type ?? "kernel"} message: ${(error as Error).message}`);
    }
  };
  model.on("msg:custom", messageHandler);
  cleanups.push(() => model.off("msg:custom", messageHandler));

  cleanups.push(loader.onSlice((slice) => {
    for (const view of views) if (view.axis === slice.axis && view.index() === slice.index) view.invalidateImage();
  }));
  cleanups.push(labels.onChange((bbox) => {
    for (const view of views) {
      const index = view.shown >= 0 ? view.shown : view.index();
      if (!bbox || (bbox[view.axis][0] <= index && index < bbox[view.axis][1])) view.invalidateOverlay();
    }
  }));

  let lastSliceIndex = [...model.get("slice_index")];
  const on = (names: string, callback: () => void) => {
    for (const name of names.split(" ")) {
      model.on(`change:${name}`, callback);
      cleanups.push(() => model.off(`change:${name}`, callback));
    }
  };
  on("slice_index", () => {
    const next = model.get("slice_index");
    for (const view of views) view.syncSlice(next[view.axis] - lastSliceIndex[view.axis]);
    if (model.get("view_layout") === "three") views.forEach((view) => view.schedule());
    lastSliceIndex = [...next];
  });
  on("axis view_layout", () => {
    buildViews();
    refreshUi();
  });
  on("window", () => {
    views.forEach((view) => view.invalidateImage());
    refreshUi();
  });
  on("objects opacity outline show_masks", () => {
    views.forEach((view) => view.invalidateOverlay());
    refreshUi();
  });
  on("tool positive busy pending error model_info supported_tools active_object", () => {
    if (model.get("error") === "") dismissedTraitError = "";
    refreshUi();
  });
  on("shape", () => {
    loader.clear();
    labels.resize(model.get("shape"));
    send({ type: "get_labels", request_id: newRequestId() });
    buildViews();
  });

  cleanups.push(bindKeys());

  function bindKeys(): () => void {
    const keydown = (event: KeyboardEvent) => {
      if (handleKey(event)) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    const keyup = (event: KeyboardEvent) => {
      if (event.key === " ") spaceHeld = false;
    };
    const blur = () => (spaceHeld = false);
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

  function handleKey(event: KeyboardEvent): boolean {
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const view = activeView ?? views[0];
    if (event.ctrlKey || event.metaKey) {
      if (key === "z") sendCommand(event.shiftKey ? "redo" : "undo");
      else if (key === "y") sendCommand("redo");
      else return false;
      return true;
    }
    if (event.altKey) return false;
    const target = event.target as HTMLElement;
    if (target.matches("select") && key !== "Escape") return false;
    if (target.matches("input") && key.startsWith("Arrow")) return false;
    const step = event.shiftKey ? 5 : 1;
    if (key in TOOL_KEYS) handlers.tool(TOOL_KEYS[key]);
    else if (key === "t") handlers.togglePolarity();
    else if (key === "r") sendCommand("reset_object");
    else if (key === "m") sendCommand("new_object");
    else if (key === "?" || key === "h") ui.toggleHelp();
    else if (key === "Escape") {
      if (!views.some((each) => each.cancelGesture())) ui.toggleHelp(false);
    } else if (key === "ArrowUp" || key === "ArrowRight") view?.step(step);
    else if (key === "ArrowDown" || key === "ArrowLeft") view?.step(-step);
    else if (key === "PageUp") view?.step(10);
    else if (key === "PageDown") view?.step(-10);
    else if (key === "+" || key === "=") view?.zoomBy(1.25);
    else if (key === "-" || key === "_") view?.zoomBy(0.8);
    else if (key === "0") handlers.fit();
    else if (key === "1" || key === "2" || key === "3") handlers.axis((Number(key) - 1) as Axis);
    else if (key === "v") handlers.layout(model.get("view_layout") === "three" ? "single" : "three");
    else if (key === "o") handlers.outline(!model.get("outline"));
    else if (key === "a") handlers.showMasks(!model.get("show_masks"));
    else if (key === " ") spaceHeld = true;
    else return false;
    return true;
  }

  // First paint: the visible slice is requested before anything else.
  buildViews();
  const window0 = model.get("window");
  if (!window0 || !(window0[1] > 0)) {
    const statsNow = model.get("intensity_stats");
    if (statsNow) setTrait("window", autoWindow(statsNow));
  }
  send({ type: "get_labels", request_id: newRequestId() });
  refreshUi();

  return () => {
    window.clearTimeout(saveTimer);
    if (saveTimer) model.save_changes();
    cleanups.forEach((cleanup) => cleanup());
    views.forEach((view) => view.destroy());
    ui.dispose();
  };
}

function readTraits(model: AnyModel<WidgetTraits>): WidgetTraits {
  const names: (keyof WidgetTraits)[] = [
    "shape", "spacing_mm", "image_dtype", "intensity_stats", "axis", "slice_index", "view_layout", "tool",
    "positive", "window", "objects", "active_object", "opacity", "outline", "show_masks", "busy", "pending",
    "error", "model_info", "supported_tools", "scribble_thickness", "overlap", "labels_version",
  ];
  return Object.fromEntries(names.map((name) => [name, model.get(name)])) as unknown as WidgetTraits;
}

function formatReadout({ voxel, value, label }: CursorReadout, dtype: string): string {
  const position = `x ${voxel[0]}  y ${voxel[1]}  z ${voxel[2]}`;
  const shown = value === null ? "…" : dtype.startsWith("float") ? Number(value.toPrecision(5)).toString() : String(value);
  return `${position}   = ${shown}${label ? `   object ${label}` : ""}`;
}

function render({ model, el }: RenderProps<WidgetTraits>): () => void {
  return createWidget(model, el);
}

export default { render };
