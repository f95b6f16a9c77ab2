/**
 * The widget's chrome: toolbar, object strip, prompt list, status line, error banner, hints and
 * the help overlay. Pure DOM; the widget wires the handlers and calls `update` when state changes.
 */
import { button, h, icon } from "./dom";
import { KEY_HELP } from "./keys";
import { PromptList, type PromptListHandlers } from "./promptlist";
import { Toolbar, type ToolbarHandlers } from "./toolbar";
import type { ModelInfo, WidgetTraits } from "./types";

export interface UiHandlers extends ToolbarHandlers, PromptListHandlers {
  toggleObject(id: number): void;
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
  private readonly toolbar: Toolbar;
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
    this.toolbar = new Toolbar(handlers);
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
      [this.toolbar.el, this.objects, this.prompts.el, this.errorBanner, viewportFrame, status],
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
    this.toolbar.update(traits, preset);
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
    const { text, title } = modelStatus(info);
    this.modelText.textContent = text;
    this.modelText.title = title;
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

/**
 * The status line's model part: name, device, how it runs (the performance line, which names the
 * precision, else the bare precision) and licence; the tooltip adds the model's provenance.
 */
export function modelStatus(info: Partial<ModelInfo> | undefined): { text: string; title: string } {
  if (!info) return { text: "", title: "" };
  const parts = [info.name, info.device, info.performance || info.precision, info.license];
  const provenance = [
    info.id ? `model id ${info.id}` : "",
    info.commit ? `snapshot ${info.commit}` : "",
    info.checkpoint_sha256 ? `checkpoint sha256 ${info.checkpoint_sha256}` : "",
  ];
  const shown = parts.filter((part): part is string => Boolean(part));
  return { text: shown.join(" · "), title: [...shown, ...provenance.filter((part) => part)].join("\n") };
}

function formatCount(voxels: number): string {
  if (!voxels) return "empty";
  if (voxels >= 1e6) return `${(voxels / 1e6).toFixed(1)}M vox`;
  if (voxels >= 1e3) return `${(voxels / 1e3).toFixed(1)}k vox`;
  return `${voxels} vox`;
}
