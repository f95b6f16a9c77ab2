/**
 * The widget's chrome: toolbar, object strip, status line, error banner, hints and the help
 * overlay. Pure DOM; the widget wires the handlers and calls `update` when state changes.
 */
import { WINDOW_PRESETS } from "./contract.gen";
import type { Axis, CommandName, Layout, Tool, WidgetTraits } from "./types";
import { TOOLS } from "./types";
import { KEY_HELP } from "./keys";
import { PromptList, type PromptListHandlers } from "./promptlist";
import { TOOL_LABELS } from "./tools";

type Attrs = Record<string, string | number | boolean | undefined>;

/** Create an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
  return element;
}

const ICON_PATHS: Record<string, string> = {
  point:
    '<circle cx="8" cy="8" r="2.6" fill="currentColor" stroke="none"/><path d="M8 1.5v3M8 11.5v3M1.5 8h3M11.5 8h3"/>',
  box: '<rect x="2.5" y="3.5" width="11" height="9" rx="1.2"/>',
  scribble: '<path d="M2 12c1.5-5 3-7 4.5-5.5S8 12 10 10s2.5-6 4-6"/>',
  lasso:
    '<path d="M6.2 11.6C3.6 11 2 9.4 2 7.4 2 4.9 4.7 3 8 3s6 1.9 6 4.4-2.7 4.4-6 4.4"/><path d="M6.5 11.5c-.8 1.2-.4 2.5 1 3"/>',
  undo: '<path d="M5.5 3.5 2.5 6.5l3 3"/><path d="M2.5 6.5h7a4 4 0 0 1 0 8H7"/>',
  redo: '<path d="m10.5 3.5 3 3-3 3"/><path d="M13.5 6.5h-7a4 4 0 0 0 0 8H9"/>',
  reset: '<path d="M2.8 8A5.2 5.2 0 1 0 4.3 4.3"/><path d="M2.5 1.8v3h3"/>',
  plus: '<path d="M8 2.5v11M2.5 8h11"/>',
  eye: '<path d="M1.5 8S4 3.5 8 3.5 14.5 8 14.5 8 12 12.5 8 12.5 1.5 8 1.5 8z"/><circle cx="8" cy="8" r="2"/>',
  outline: '<circle cx="8" cy="8" r="5.3" stroke-dasharray="2.2 1.8"/>',
  three: '<rect x="1.5" y="3" width="13" height="10" rx="1"/><path d="M5.8 3v10M10.2 3v10"/>',
  fit: '<path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4"/>',
};

function icon(name: string): SVGElement {
  const wrapper = document.createElement("span");
  wrapper.innerHTML = `<svg class="nni-icon" viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICON_PATHS[name]}</svg>`;
  return wrapper.firstElementChild as SVGElement;
}

function button(
  testid: string,
  title: string,
  content: (Node | string)[],
  onClick: () => void,
  extra: Attrs = {},
): HTMLButtonElement {
  const element = h(
    "button",
    { type: "button", class: "nni-btn", title, "aria-label": title, "data-testid": testid, ...extra },
    content,
  );
  element.addEventListener("click", (event) => {
    event.preventDefault();
    onClick();
  });
  return element;
}

export interface UiHandlers extends PromptListHandlers {
  tool(tool: Tool): void;
  togglePolarity(): void;
  command(name: CommandName, object?: number): void;
  axis(axis: Axis): void;
  layout(layout: Layout): void;
  preset(id: string): void;
  showMasks(show: boolean): void;
  outline(outline: boolean): void;
  opacity(value: number): void;
  toggleObject(id: number): void;
  fit(): void;
  help(): void;
  dismissError(): void;
}

export interface UiState {
  traits: WidgetTraits;
  hidden: ReadonlySet<number>;
  preset: string | null;
  error: string;
}

export class Ui {
  readonly root: HTMLElement;
  readonly viewport: HTMLElement;
  private readonly toolButtons = new Map<Tool, HTMLButtonElement>();
  private readonly axisButtons: HTMLButtonElement[] = [];
  private readonly polarity: HTMLButtonElement;
  private readonly threeButton: HTMLButtonElement;
  private readonly showButton: HTMLButtonElement;
  private readonly outlineButton: HTMLButtonElement;
  private readonly opacity: HTMLInputElement;
  private readonly presets: HTMLSelectElement;
  private readonly objects: HTMLElement;
  private readonly prompts: PromptList;
  private readonly busy: HTMLElement;
  private readonly progress: HTMLElement;
  private readonly cursorText: HTMLElement;
  private readonly modelText: HTMLElement;
  private readonly warning: HTMLElement;
  private readonly errorBanner: HTMLElement;
  private readonly errorText: HTMLElement;
  private readonly hintBox: HTMLElement;
  private readonly helpPanel: HTMLElement;
  private hintTimer = 0;

  constructor(private readonly handlers: UiHandlers) {
    for (const tool of TOOLS) {
      const key = tool[0].toUpperCase();
      this.toolButtons.set(
        tool,
        button(
          `nni-tool-${tool}`,
          `${TOOL_LABELS[tool]} (${key})`,
          [icon(tool), h("span", { class: "nni-btn-label" }, [TOOL_LABELS[tool]])],
          () => handlers.tool(tool),
          { "data-tool": tool },
        ),
      );
    }
    this.polarity = button("nni-polarity", "Include / exclude (T)", [], handlers.togglePolarity, {
      class: "nni-btn nni-polarity",
    });
    const undo = button("nni-undo", "Undo (Ctrl+Z)", [icon("undo")], () => handlers.command("undo"));
    const redo = button("nni-redo", "Redo (Ctrl+Shift+Z)", [icon("redo")], () => handlers.command("redo"));
    const reset = button("nni-reset", "Reset the active object (R)", [icon("reset")], () =>
      handlers.command("reset_object"),
    );
    const add = button("nni-new-object", "New object (M)", [icon("plus")], () => handlers.command("new_object"));
    ([0, 1, 2] as Axis[]).forEach((axis) => {
      this.axisButtons.push(
        button(
          `nni-axis-${axis}`,
          `Slices along ${"xyz"[axis]} (${axis + 1})`,
          ["XYZ"[axis]],
          () => handlers.axis(axis),
          { class: "nni-btn nni-axis" },
        ),
      );
    });
    this.threeButton = button("nni-layout-three", "Three views (V)", [icon("three")], () => handlers.layout("three"));
    const fit = button("nni-fit", "Fit to view (0)", [icon("fit")], handlers.fit);
    this.presets = h(
      "select",
      {
        class: "nni-select",
        title: "Window / level: Auto = 0.5th to 99.5th percentile (MRI); right-drag to adjust",
        "data-testid": "nni-window-preset",
      },
      presetOptions(),
    );
    this.presets.addEventListener("change", () => handlers.preset(this.presets.value));
    this.showButton = button("nni-show-masks", "Show / hide masks (A)", [icon("eye")], () =>
      handlers.showMasks(this.showButton.getAttribute("aria-pressed") !== "true"),
    );
    this.outlineButton = button("nni-outline", "Outline (O)", [icon("outline")], () =>
      handlers.outline(this.outlineButton.getAttribute("aria-pressed") !== "true"),
    );
    this.opacity = h("input", {
      type: "range",
      class: "nni-opacity",
      min: "0",
      max: "1",
      step: "0.05",
      title: "Mask opacity",
      "data-testid": "nni-opacity",
    });
    this.opacity.addEventListener("input", () => handlers.opacity(Number(this.opacity.value)));
    const help = button("nni-help-button", "Keys (?)", ["?"], handlers.help, { class: "nni-btn nni-help-btn" });

    const group = (children: Node[], extra = "") => h("div", { class: `nni-group ${extra}` }, children);
    // Two clusters, prompting and viewing, that wrap as wholes in a narrow cell.
    const cluster = (children: Node[], extra: string) => h("div", { class: `nni-cluster ${extra}` }, children);
    const toolbar = h("div", { class: "nni-toolbar", role: "toolbar", "data-testid": "nni-toolbar" }, [
      cluster(
        [group([...this.toolButtons.values()], "nni-tools"), this.polarity, group([undo, redo]), group([reset, add])],
        "nni-prompting",
      ),
      cluster(
        [
          group([...this.axisButtons, this.threeButton, fit]),
          this.presets,
          group([this.showButton, this.outlineButton, this.opacity]),
          help,
        ],
        "nni-viewing",
      ),
    ]);
    this.objects = h("div", { class: "nni-objects", "data-testid": "nni-objects" });
    this.prompts = new PromptList(handlers);
    this.errorText = h("span", { class: "nni-error-text" });
    this.errorBanner = h("div", { class: "nni-error", role: "alert", "data-testid": "nni-error", hidden: true }, [
      this.errorText,
      button("nni-error-dismiss", "Dismiss", ["×"], handlers.dismissError, { class: "nni-btn nni-error-close" }),
    ]);
    this.hintBox = h("div", { class: "nni-hint", "data-testid": "nni-hint", hidden: true });
    this.helpPanel = this.buildHelp(handlers);
    this.viewport = h("div", { class: "nni-viewport", "data-testid": "nni-viewport" });
    this.progress = h("div", { class: "nni-progress", hidden: true });
    const viewportFrame = h("div", { class: "nni-viewport-frame" }, [
      this.progress,
      this.viewport,
      this.hintBox,
      this.helpPanel,
    ]);
    this.busy = h("span", { class: "nni-busy", "data-testid": "nni-busy" });
    this.cursorText = h("span", { class: "nni-cursor", "data-testid": "nni-cursor" });
    this.modelText = h("span", { class: "nni-model", "data-testid": "nni-model-info" });
    this.warning = h("span", { class: "nni-warning", "data-testid": "nni-warning", hidden: true });
    const status = h("div", { class: "nni-status", "data-testid": "nni-status" }, [
      this.busy,
      this.cursorText,
      h("span", { class: "nni-spacer" }),
      this.warning,
      this.modelText,
    ]);
    this.root = h(
      "div",
      { class: "nni-root", tabindex: 0, "data-lm-suppress-shortcuts": "true", "data-testid": "nni-root" },
      [toolbar, this.objects, this.prompts.el, this.errorBanner, viewportFrame, status],
    );
  }

  private buildHelp(handlers: UiHandlers): HTMLElement {
    const rows = KEY_HELP.map(([keys, action]) =>
      h("div", { class: "nni-help-row" }, [h("kbd", {}, [keys]), h("span", {}, [action])]),
    );
    const panel = h("div", { class: "nni-help", "data-testid": "nni-help", hidden: true }, [
      h("div", { class: "nni-help-title" }, [
        "Keys",
        button("nni-help-close", "Close", ["×"], handlers.help, { class: "nni-btn nni-help-close" }),
      ]),
      h("div", { class: "nni-help-grid" }, rows),
    ]);
    return panel;
  }

  /** Bring every control in line with the state. */
  update({ traits, hidden, preset, error }: UiState): void {
    const supported = traits.supported_tools ?? [...TOOLS];
    for (const [tool, element] of this.toolButtons) {
      element.classList.toggle("nni-active", tool === traits.tool);
      element.setAttribute("aria-pressed", String(tool === traits.tool));
      element.disabled = !supported.includes(tool);
    }
    this.polarity.classList.toggle("nni-negative", !traits.positive);
    this.polarity.dataset.positive = String(traits.positive);
    this.polarity.replaceChildren(
      h("span", { class: "nni-sign" }, [traits.positive ? "+" : "−"]),
      traits.positive ? "Include" : "Exclude",
    );
    this.axisButtons.forEach((element, axis) =>
      element.classList.toggle("nni-active", traits.view_layout === "single" && traits.axis === axis),
    );
    this.threeButton.classList.toggle("nni-active", traits.view_layout === "three");
    this.presets.value = preset ?? "custom";
    this.showButton.classList.toggle("nni-active", traits.show_masks);
    this.showButton.setAttribute("aria-pressed", String(traits.show_masks));
    this.outlineButton.classList.toggle("nni-active", traits.outline);
    this.outlineButton.setAttribute("aria-pressed", String(traits.outline));
    this.opacity.value = String(traits.opacity);
    this.updateObjects(traits, hidden);
    this.prompts.update(traits.prompt_list ?? []);
    this.updateStatus(traits);
    this.errorText.textContent = error;
    this.errorBanner.hidden = error === "";
  }

  private updateObjects(traits: WidgetTraits, hidden: ReadonlySet<number>): void {
    const chips = (traits.objects ?? []).map((object) => {
      const [r, g, b] = object.color;
      const visible = object.visible && !hidden.has(object.id);
      const chip = h(
        "div",
        {
          class: `nni-chip${object.id === traits.active_object ? " nni-active" : ""}${visible ? "" : " nni-hidden"}`,
          "data-testid": "nni-object",
          "data-object": object.id,
          title: `Object ${object.id}${object.class_id != null ? `, class ${object.class_id}` : ""}: click to make it active`,
        },
        [
          h("span", { class: "nni-swatch", style: `background: rgb(${r}, ${g}, ${b})` }),
          h("span", { class: "nni-chip-name" }, [object.name]),
          h("span", { class: "nni-chip-count" }, [formatCount(object.voxels)]),
        ],
      );
      const eye = h(
        "button",
        {
          type: "button",
          class: "nni-chip-eye",
          title: visible ? "Hide" : "Show",
          "aria-label": visible ? "Hide" : "Show",
        },
        [icon("eye")],
      );
      eye.addEventListener("click", (event) => {
        event.stopPropagation();
        this.handlers.toggleObject(object.id);
      });
      chip.append(eye);
      chip.addEventListener("click", () => this.handlers.command("select_object", object.id));
      return chip;
    });
    this.objects.replaceChildren(...chips);
    this.objects.hidden = chips.length === 0;
  }

  private updateStatus(traits: WidgetTraits): void {
    const pending = traits.pending ?? 0;
    this.busy.classList.toggle("nni-is-busy", traits.busy);
    this.busy.dataset.busy = String(traits.busy);
    this.busy.textContent = traits.busy ? `Computing${pending > 0 ? ` · ${pending} queued` : ""}` : "Ready";
    this.progress.hidden = !traits.busy;
    const info = traits.model_info;
    const parts = info ? [info.name, info.device, info.precision, info.license].filter((part) => part) : [];
    this.modelText.textContent = parts.join(" · ");
    this.modelText.title = parts.join("\n");
    this.warning.textContent = info?.warning ? `⚠ ${info.warning}` : "";
    this.warning.title = info?.warning ?? "";
    this.warning.hidden = !info?.warning;
  }

  setCursor(text: string): void {
    this.cursorText.textContent = text;
  }

  /** A short-lived message over the viewport. */
  hint(text: string): void {
    this.hintBox.textContent = text;
    this.hintBox.hidden = text === "";
    window.clearTimeout(this.hintTimer);
    if (text) this.hintTimer = window.setTimeout(() => (this.hintBox.hidden = true), 2500);
  }

  toggleHelp(force?: boolean): boolean {
    this.helpPanel.hidden = force === undefined ? !this.helpPanel.hidden : !force;
    return !this.helpPanel.hidden;
  }

  dispose(): void {
    window.clearTimeout(this.hintTimer);
    this.root.remove();
  }
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

function formatCount(voxels: number): string {
  if (!voxels) return "empty";
  if (voxels >= 1e6) return `${(voxels / 1e6).toFixed(1)}M vox`;
  if (voxels >= 1e3) return `${(voxels / 1e3).toFixed(1)}k vox`;
  return `${voxels} vox`;
}
