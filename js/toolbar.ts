/**
 * The widget's toolbar, in two clusters that wrap as wholes in a narrow cell: prompting (tools,
 * include / exclude, hand edits with the brush size, undo and redo, reset and new object) and
 * viewing (axis and layout, fit, window preset, mask display, help). `update` brings its buttons
 * in line with the traits.
 */
import { WINDOW_PRESETS } from "./contract.gen";
import { button, h, icon } from "./dom";
import { TOOL_LABELS, toolKey } from "./gestures";
import type { AnyTool, Axis, CommandName, Layout, WidgetTraits } from "./types";
import { EDIT_TOOLS, TOOLS } from "./types";

/** What each edit tool does, for its tooltip. */
const EDIT_HINTS: Record<string, string> = {
  paint: "paint into the active object; [ ] or Shift+wheel: size",
  erase: "erase from the active object only; [ ] or Shift+wheel: size",
  fill: "fill the region under the cursor on this slice (inside the object: its holes)",
};

export interface ToolbarHandlers {
  tool(tool: AnyTool): void;
  brushRadius(radius: number): void;
  brushUnit(unit: "voxel" | "mm"): void;
  togglePolarity(): void;
  command(name: CommandName, object?: number): void;
  axis(axis: Axis): void;
  layout(layout: Layout): void;
  preset(id: string): void;
  showMasks(show: boolean): void;
  outline(outline: boolean): void;
  opacity(value: number): void;
  fit(): void;
  help(): void;
}

export class Toolbar {
  readonly el: HTMLElement;
  private readonly tools: Map<AnyTool, HTMLButtonElement>;
  private readonly edits: Map<AnyTool, HTMLButtonElement>;
  private readonly radius: HTMLInputElement;
  private readonly unit: HTMLSelectElement;
  private readonly polarity: HTMLButtonElement;
  private readonly axes: HTMLButtonElement[];
  private readonly three: HTMLButtonElement;
  private readonly presets: HTMLSelectElement;
  private readonly show: HTMLButtonElement;
  private readonly outline: HTMLButtonElement;
  private readonly opacity: HTMLInputElement;

  constructor(handlers: ToolbarHandlers) {
    this.tools = new Map(TOOLS.map((tool) => [tool, toolButton(tool, handlers)]));
    this.edits = new Map(EDIT_TOOLS.map((tool) => [tool, toolButton(tool, handlers)]));
    [this.radius, this.unit] = brushSize(handlers);
    this.polarity = button("nni-polarity", "Include / exclude (T)", [], handlers.togglePolarity, {
      class: "nni-btn nni-polarity",
    });
    this.axes = ([0, 1, 2] as Axis[]).map((axis) =>
      button(
        `nni-axis-${axis}`,
        `Slices along ${"xyz"[axis]} (${axis + 1})`,
        ["XYZ"[axis]],
        () => handlers.axis(axis),
        {
          class: "nni-btn nni-axis",
        },
      ),
    );
    this.three = button("nni-layout-three", "Three views (V)", [icon("three")], () => handlers.layout("three"));
    this.presets = presetSelect(handlers);
    const pressed = (element: HTMLElement) => element.getAttribute("aria-pressed") === "true";
    this.show = button("nni-show-masks", "Show / hide masks (A)", [icon("eye")], () =>
      handlers.showMasks(!pressed(this.show)),
    );
    this.outline = button("nni-outline", "Outline (O)", [icon("outline")], () =>
      handlers.outline(!pressed(this.outline)),
    );
    this.opacity = opacitySlider(handlers);
    this.el = h("div", { class: "nni-toolbar", role: "toolbar", "data-testid": "nni-toolbar" }, [
      this.prompting(handlers),
      this.viewing(handlers),
    ]);
  }

  /** Bring every button in line with the traits (`preset`: the window preset shown, if any). */
  update(traits: WidgetTraits, preset: string | null): void {
    const supported = traits.supported_tools ?? [...TOOLS];
    for (const [tool, element] of this.tools) {
      element.classList.toggle("nni-active", tool === traits.tool);
      element.setAttribute("aria-pressed", String(tool === traits.tool));
      element.disabled = !supported.includes(tool as (typeof supported)[number]);
    }
    for (const [tool, element] of this.edits) {
      element.classList.toggle("nni-active", tool === traits.tool);
      element.setAttribute("aria-pressed", String(tool === traits.tool));
    }
    if (document.activeElement !== this.radius) this.radius.value = String(traits.brush_radius ?? 3);
    this.unit.value = traits.brush_unit ?? "voxel";
    this.polarity.classList.toggle("nni-negative", !traits.positive);
    this.polarity.dataset.positive = String(traits.positive);
    this.polarity.replaceChildren(
      h("span", { class: "nni-sign" }, [traits.positive ? "+" : "−"]),
      traits.positive ? "Include" : "Exclude",
    );
    this.axes.forEach((element, axis) =>
      element.classList.toggle("nni-active", traits.view_layout === "single" && traits.axis === axis),
    );
    this.three.classList.toggle("nni-active", traits.view_layout === "three");
    this.presets.value = preset ?? "custom";
    this.show.classList.toggle("nni-active", traits.show_masks);
    this.show.setAttribute("aria-pressed", String(traits.show_masks));
    this.outline.classList.toggle("nni-active", traits.outline);
    this.outline.setAttribute("aria-pressed", String(traits.outline));
    this.opacity.value = String(traits.opacity);
  }

  private prompting(handlers: ToolbarHandlers): HTMLElement {
    const command = (name: CommandName) => () => handlers.command(name);
    const undo = button("nni-undo", "Undo (Ctrl+Z)", [icon("undo")], command("undo"));
    const redo = button("nni-redo", "Redo (Ctrl+Shift+Z)", [icon("redo")], command("redo"));
    const reset = button("nni-reset", "Reset the active object (R)", [icon("reset")], command("reset_object"));
    const add = button("nni-new-object", "New object (M)", [icon("plus")], command("new_object"));
    const edits = group([...this.edits.values(), this.radius, this.unit], "nni-tools nni-edit-tools");
    return cluster(
      [group([...this.tools.values()], "nni-tools"), this.polarity, edits, group([undo, redo]), group([reset, add])],
      "nni-prompting",
    );
  }

  private viewing(handlers: ToolbarHandlers): HTMLElement {
    const fit = button("nni-fit", "Fit to view (0)", [icon("fit")], handlers.fit);
    const help = button("nni-help-button", "Keys (?)", ["?"], handlers.help, { class: "nni-btn nni-help-btn" });
    return cluster(
      [group([...this.axes, this.three, fit]), this.presets, group([this.show, this.outline, this.opacity]), help],
      "nni-viewing",
    );
  }
}

const group = (children: Node[], extra = "") => h("div", { class: `nni-group ${extra}` }, children);
const cluster = (children: Node[], extra: string) => h("div", { class: `nni-cluster ${extra}` }, children);

function toolButton(tool: AnyTool, handlers: ToolbarHandlers): HTMLButtonElement {
  const label = TOOL_LABELS[tool];
  const hint = EDIT_HINTS[tool] ? `: ${EDIT_HINTS[tool]}` : "";
  return button(
    `nni-tool-${tool}`,
    `${label} (${toolKey(tool)})${hint}`,
    [icon(tool), h("span", { class: "nni-btn-label" }, [label])],
    () => handlers.tool(tool),
    { "data-tool": tool },
  );
}

/** The brush radius field and its unit (voxels or mm). */
function brushSize(handlers: ToolbarHandlers): [HTMLInputElement, HTMLSelectElement] {
  const radius = h("input", {
    type: "number",
    class: "nni-brush-radius",
    min: "0.5",
    max: "512",
    step: "0.5",
    title: "Brush radius ([ ] or Shift+wheel)",
    "aria-label": "Brush radius",
    "data-testid": "nni-brush-radius",
  });
  radius.addEventListener("change", () => handlers.brushRadius(Number(radius.value)));
  const unit = h(
    "select",
    { class: "nni-select nni-brush-unit", title: "Brush radius unit", "data-testid": "nni-brush-unit" },
    [h("option", { value: "voxel" }, ["vox"]), h("option", { value: "mm" }, ["mm"])],
  );
  unit.addEventListener("change", () => handlers.brushUnit(unit.value === "mm" ? "mm" : "voxel"));
  return [radius, unit];
}

function presetSelect(handlers: ToolbarHandlers): HTMLSelectElement {
  const select = h(
    "select",
    {
      class: "nni-select",
      title: "Window / level: Auto = 0.5th to 99.5th percentile (MRI); right-drag to adjust",
      "data-testid": "nni-window-preset",
    },
    presetOptions(),
  );
  select.addEventListener("change", () => handlers.preset(select.value));
  return select;
}

function presetOptions(): HTMLElement[] {
  const option = (id: string, label: string, disabled = false) => h("option", { value: id, disabled }, [label]);
  const groups = new Map<string, HTMLElement[]>();
  for (const preset of WINDOW_PRESETS) {
    groups.set(preset.group, [...(groups.get(preset.group) ?? []), option(preset.id, preset.label)]);
  }
  const options: HTMLElement[] = [];
  for (const [group, items] of groups) options.push(...(group ? [h("optgroup", { label: group }, items)] : items));
  options.push(option("custom", "Custom", true));
  return options;
}

function opacitySlider(handlers: ToolbarHandlers): HTMLInputElement {
  const slider = h("input", {
    type: "range",
    class: "nni-opacity",
    min: "0",
    max: "1",
    step: "0.05",
    title: "Mask opacity",
    "data-testid": "nni-opacity",
  });
  slider.addEventListener("input", () => handlers.opacity(Number(slider.value)));
  return slider;
}
