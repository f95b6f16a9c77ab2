/**
 * The active object's prompt list (trait `prompt_list`): one row per prompt that still shapes it.
 * Hovering a row outlines that prompt in the views, clicking it goes to its slice, and its ×
 * removes it (`remove_prompt`, named by index and sequence, so the kernel refuses a stale list).
 */
import { TOOL_LABELS } from "./gestures";
import { icon } from "./dom";
import { planeAxes } from "./transform";
import type { AnyTool, Axis, PlanePoint, PromptRow, Vec3, VolumeEdit } from "./types";

/** Edits made in Python: their names in the list. */
const VOLUME_EDIT_LABELS: Record<VolumeEdit, string> = {
  fill_holes: "Fill holes",
  keep_largest: "Keep largest",
  remove_small: "Remove small",
  dilate: "Dilate",
  erode: "Erode",
};
const AMOUNT_UNITS: Partial<Record<VolumeEdit, string>> = { remove_small: "mL", dilate: "mm", erode: "mm" };

/** Whether a row is a hand edit (drawn with its own icon and no sign). */
export function isEdit(row: PromptRow): boolean {
  return row.kind in VOLUME_EDIT_LABELS || ["paint", "erase", "fill"].includes(row.kind);
}

function kindLabel(row: PromptRow): string {
  if (row.kind === "mask") return "Mask";
  if (row.kind in VOLUME_EDIT_LABELS) {
    const kind = row.kind as VolumeEdit;
    const amount = row.amount ?? null;
    return amount === null ? VOLUME_EDIT_LABELS[kind] : `${VOLUME_EDIT_LABELS[kind]} ${amount} ${AMOUNT_UNITS[kind]}`;
  }
  return TOOL_LABELS[row.kind as AnyTool];
}

const AXIS_NAMES = "xyz";

/** A row's text: polarity, kind and where it lies (slices 1-based, as the view captions). */
export function rowLabel(row: PromptRow): string {
  const sign = isEdit(row) ? "✎" : row.positive ? "+" : "−";
  const kind = kindLabel(row);
  let where = "";
  if (row.axis !== null && row.slice !== null) where = `${AXIS_NAMES[row.axis]} ${row.slice + 1}`;
  else if (row.draw === "point" && row.points.length === 1) where = row.points[0].map((c) => Math.round(c)).join(", ");
  return where ? `${sign} ${kind} · ${where}` : `${sign} ${kind}`;
}

/** Where clicking a row goes: the plane to show (null: keep) and the new `slice_index`. */
export function rowTarget(row: PromptRow, sliceIndex: Vec3): { axis: Axis | null; sliceIndex: Vec3 } {
  const next: Vec3 = [...sliceIndex];
  row.focus.forEach((value, axis) => {
    if (value !== null) next[axis] = value;
  });
  return { axis: row.axis, sliceIndex: next };
}

/** A row's outline in a view along `axis` at slice `index`, or null when it has none there. */
export interface RowOutline {
  tool: AnyTool;
  positive: boolean;
  /** In-plane voxel coordinates of the view. */
  path: PlanePoint[];
  /** True when the prompt lies on the shown slice (else it is drawn as a ghost). */
  onSlice: boolean;
  /** A brush stroke's radius in voxels. */
  radius?: [number, number];
}

export function rowOutline(row: PromptRow, axis: Axis, index: number): RowOutline | null {
  // drawn on another plane: seen edge-on here, nothing to outline
  if (row.draw === "none" || row.points.length === 0 || (row.axis !== null && row.axis !== axis)) return null;
  const [p, q] = planeAxes(axis);
  const along = row.points.map((point) => point[axis]);
  const onSlice = Math.round(Math.min(...along)) <= index && index <= Math.round(Math.max(...along));
  const path = row.points.map((point): PlanePoint => [point[p], point[q]]);
  const outline: RowOutline = { tool: row.draw, positive: row.positive, path, onSlice };
  if (row.radius) outline.radius = row.radius;
  return outline;
}

export interface PromptListHandlers {
  hover(row: PromptRow | null): void;
  go(row: PromptRow): void;
  remove(row: PromptRow): void;
}

/** The list's DOM: a strip of rows under the object strip, hidden when the object has none. */
export class PromptList {
  readonly el: HTMLElement;
  private readonly rows: HTMLElement;
  private shown = "";

  constructor(private readonly handlers: PromptListHandlers) {
    this.rows = document.createElement("div");
    this.rows.className = "nni-prompt-rows";
    const title = document.createElement("span");
    title.className = "nni-prompts-title";
    title.textContent = "Prompts";
    this.el = document.createElement("div");
    this.el.className = "nni-prompts";
    this.el.dataset.testid = "nni-prompts";
    this.el.append(title, this.rows);
    this.el.hidden = true;
  }

  update(rows: readonly PromptRow[]): void {
    const key = JSON.stringify(rows);
    if (key === this.shown) return; // keep the DOM (and the hover) while nothing changed
    this.shown = key;
    this.handlers.hover(null);
    this.rows.replaceChildren(...rows.map((row) => this.row(row)));
    this.el.hidden = rows.length === 0;
  }

  private row(row: PromptRow): HTMLElement {
    const element = document.createElement("div");
    element.className = `nni-prompt-row${row.positive ? "" : " nni-negative"}${isEdit(row) ? " nni-edit" : ""}`;
    element.dataset.kind = row.kind;
    element.dataset.testid = "nni-prompt-row";
    element.dataset.index = String(row.index);
    element.title = "Hover: outline it · click: go to its slice";
    const number = document.createElement("span");
    number.className = "nni-prompt-number";
    number.textContent = String(row.index + 1);
    const label = document.createElement("span");
    label.textContent = rowLabel(row);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "nni-prompt-remove";
    remove.dataset.testid = "nni-prompt-remove";
    remove.title = "Remove this prompt and recompute the object (undoable)";
    remove.setAttribute("aria-label", `Remove prompt ${row.index + 1}`);
    remove.textContent = "×";
    remove.addEventListener("click", (event) => {
      event.stopPropagation();
      this.handlers.remove(row);
    });
    if (isEdit(row)) {
      const kindIcon = icon(row.kind in VOLUME_EDIT_LABELS ? "edit" : row.kind);
      kindIcon.classList.add("nni-prompt-icon");
      element.append(number, kindIcon, label, remove);
    } else {
      element.append(number, label, remove);
    }
    element.addEventListener("pointerenter", () => this.handlers.hover(row));
    element.addEventListener("pointerleave", () => this.handlers.hover(null));
    element.addEventListener("click", () => this.handlers.go(row));
    return element;
  }
}
