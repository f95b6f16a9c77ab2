/**
 * Keyboard shortcuts (napari-nninteractive's vocabulary: P B S L, T, R, M, Ctrl+Z; napari's
 * labels keys where free: E eraser, F fill, [ ] brush size; D the brush, as P is the point) and the help
 * list shown in the widget. Keys act while the widget has focus; JupyterLab's own shortcuts are
 * suppressed there (`data-lm-suppress-shortcuts` on the root).
 */
import { TOOL_KEYS } from "./gestures";
import type { AnyTool, Axis, CommandName } from "./types";

/** What keys can do; the widget implements it. */
export interface KeyActions {
  tool(tool: AnyTool): void;
  /** Grow (+1) or shrink (-1) the brush. */
  brushSize(direction: 1 | -1): void;
  togglePolarity(): void;
  command(name: CommandName): void;
  toggleHelp(): void;
  /** Cancel a gesture in progress, else close the help; Escape. */
  escape(): void;
  step(delta: number): void;
  zoom(factor: number): void;
  fit(): void;
  axis(axis: Axis): void;
  toggleLayout(): void;
  toggleOutline(): void;
  toggleMasks(): void;
  setSpace(held: boolean): void;
}

export const KEY_HELP: [string, string][] = [
  ["P  B  S  L", "point, box, scribble, lasso tool"],
  ["T", "toggle include / exclude"],
  ["D  E  F", "brush, eraser, fill: edit the active object by hand"],
  ["[  ]   Shift+wheel", "brush size (brush and eraser)"],
  ["Click / drag", "draw the prompt on the slice"],
  ["Ctrl+Z   Ctrl+Shift+Z", "undo, redo"],
  ["R", "reset the active object"],
  ["M", "start a new object"],
  ["Wheel   ↑ ↓   PgUp PgDn", "previous / next slice (Shift: ×5)"],
  ["Ctrl+wheel   +  −", "zoom"],
  ["Middle-drag   Space+drag", "pan"],
  ["0", "fit the slice to the view"],
  ["Right-drag", "window / level"],
  ["1  2  3   V", "view along x, y, z; three views"],
  ["O   A", "outline; show / hide masks"],
  ["Esc", "cancel the gesture, close this help"],
  ["?  H", "this help"],
];

const PLAIN_KEYS: Record<string, (actions: KeyActions, shift: boolean) => void> = {
  t: (actions) => actions.togglePolarity(),
  "[": (actions) => actions.brushSize(-1),
  "]": (actions) => actions.brushSize(1),
  r: (actions) => actions.command("reset_object"),
  m: (actions) => actions.command("new_object"),
  "?": (actions) => actions.toggleHelp(),
  h: (actions) => actions.toggleHelp(),
  Escape: (actions) => actions.escape(),
  ArrowUp: (actions, shift) => actions.step(shift ? 5 : 1),
  ArrowRight: (actions, shift) => actions.step(shift ? 5 : 1),
  ArrowDown: (actions, shift) => actions.step(shift ? -5 : -1),
  ArrowLeft: (actions, shift) => actions.step(shift ? -5 : -1),
  PageUp: (actions) => actions.step(10),
  PageDown: (actions) => actions.step(-10),
  "+": (actions) => actions.zoom(1.25),
  "=": (actions) => actions.zoom(1.25),
  "-": (actions) => actions.zoom(0.8),
  _: (actions) => actions.zoom(0.8),
  "0": (actions) => actions.fit(),
  "1": (actions) => actions.axis(0),
  "2": (actions) => actions.axis(1),
  "3": (actions) => actions.axis(2),
  v: (actions) => actions.toggleLayout(),
  o: (actions) => actions.toggleOutline(),
  a: (actions) => actions.toggleMasks(),
  " ": (actions) => actions.setSpace(true),
};

/** Act on a keydown; returns true when the key was the widget's (stop it going further). */
export function handleKey(event: KeyboardEvent, actions: KeyActions): boolean {
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (event.ctrlKey || event.metaKey) {
    if (key === "z") actions.command(event.shiftKey ? "redo" : "undo");
    else if (key === "y") actions.command("redo");
    else return false;
    return true;
  }
  if (event.altKey) return false;
  const target = event.target as HTMLElement;
  // Form controls keep their own keys: the preset menu all but Escape, sliders their arrows.
  if (target.matches?.("select") && key !== "Escape") return false;
  if (target.matches?.("input") && key.startsWith("Arrow")) return false;
  if (key in TOOL_KEYS) {
    actions.tool(TOOL_KEYS[key]);
    return true;
  }
  const action = PLAIN_KEYS[key];
  if (!action) return false;
  action(actions, event.shiftKey);
  return true;
}

/** Listen for the widget's keys on `root`; returns the function that stops listening. */
export function bindKeys(root: HTMLElement, actions: KeyActions): () => void {
  const keydown = (event: KeyboardEvent) => {
    if (handleKey(event, actions)) {
      event.preventDefault();
      event.stopPropagation();
    }
  };
  const keyup = (event: KeyboardEvent) => {
    if (event.key === " ") actions.setSpace(false);
  };
  const blur = () => actions.setSpace(false);
  // Focus the widget when the pointer goes down in it, so its keys work at once.
  const focus = (event: PointerEvent) => {
    const target = event.target as HTMLElement;
    if (!target.closest("input, select, button")) root.focus({ preventScroll: true });
  };
  const listeners = [
    ["keydown", keydown],
    ["keyup", keyup],
    ["blur", blur],
    ["pointerdown", focus],
  ] as const;
  for (const [name, listener] of listeners) root.addEventListener(name, listener as EventListener);
  return () => {
    for (const [name, listener] of listeners) root.removeEventListener(name, listener as EventListener);
  };
}
