/**
 * The slice views of one displayed widget: one along the chosen axis, or one per axis. Keeps them
 * in step with `slice_index`, and redraws the ones that a slice, tile, label patch or prompt in
 * flight from the shared store touches.
 */
import type { Store } from "./store";
import type { Model } from "./traits";
import type { Axis } from "./types";
import { SliceView, type ViewHost } from "./view";

export class Viewport {
  views: SliceView[] = [];
  private active: SliceView | null = null;
  private lastSliceIndex: number[];

  constructor(
    private readonly model: Model,
    private readonly el: HTMLElement,
    private readonly host: ViewHost,
  ) {
    this.lastSliceIndex = [...model.get("slice_index")];
  }

  /** (Re)create the views for the model's `view_layout` and `axis`. */
  build(): void {
    this.views.forEach((view) => view.destroy());
    const layout = this.model.get("view_layout");
    const axes: Axis[] = layout === "three" ? [0, 1, 2] : [this.model.get("axis")];
    this.views = axes.map((axis) => new SliceView(this.host, axis));
    this.active = this.views[0];
    this.el.dataset.layout = layout;
    this.el.replaceChildren(...this.views.map((view) => view.el));
  }

  /** Make `view` the one keys act on. */
  activate(view: SliceView): void {
    this.active = view;
  }

  /** The view keys act on. */
  get current(): SliceView | undefined {
    return this.active ?? this.views[0];
  }

  /** Move every view to the model's `slice_index` (a no-op when it has not changed). */
  syncSliceIndex(): void {
    const next = this.model.get("slice_index");
    if (next.every((index, axis) => index === this.lastSliceIndex[axis])) return;
    for (const view of this.views) view.syncSlice(next[view.axis] - this.lastSliceIndex[view.axis]);
    if (this.model.get("view_layout") === "three") this.invalidateSurfaces();
    this.lastSliceIndex = [...next];
  }

  invalidateImages(): void {
    this.views.forEach((view) => view.invalidateImage());
  }

  invalidateOverlays(): void {
    this.views.forEach((view) => view.invalidateOverlay());
  }

  invalidateSurfaces(): void {
    this.views.forEach((view) => view.invalidateSurface());
  }

  /** Cancel a gesture in progress in any view; false when there was none. */
  cancelGesture(): boolean {
    return this.views.some((view) => view.cancelGesture());
  }

  /** Redraw what the store's slices, tiles, labels and prompts touch; returns the unsubscribe. */
  listen(store: Store): () => void {
    const cleanups = [
      store.loader.onSlice((slice) => {
        for (const view of this.views) {
          if (view.axis === slice.axis && view.index() === slice.index) view.invalidateImage();
        }
      }),
      store.tiles.onTile((tile) => this.views.forEach((view) => view.tileArrived(tile))),
      store.labels.onChange((bbox) => {
        for (const view of this.views) {
          const index = view.shown >= 0 ? view.shown : view.index();
          if (!bbox || (bbox[view.axis][0] <= index && index < bbox[view.axis][1])) view.invalidateOverlay();
        }
      }),
      store.onPending(() => this.invalidateSurfaces()),
    ];
    return () => cleanups.forEach((cleanup) => cleanup());
  }

  destroy(): void {
    this.views.forEach((view) => view.destroy());
    this.views = [];
    this.active = null;
  }
}
