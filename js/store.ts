/**
 * What every view of one Segmenter shares, made once per widget model (anywidget's `initialize`):
 * the kernel link, the label volume, the slice and tile caches and the timings. A view subscribes
 * to the store's events when it mounts and unsubscribes when it unmounts; the store lives until
 * the model goes, so two outputs of one `seg` show one label volume and ask for each slice once.
 */
import { LabelVolume } from "./labels";
import { KernelLink, type WidgetStats } from "./link";
import { SliceLoader } from "./slices";
import { TileLoader } from "./tiles";
import { type Model, onTraits, saveTrait } from "./traits";
import type { IncomingMsg, OutgoingMsg } from "./types";
import { autoWindow } from "./windows";

type Listener<T> = (value: T) => void;

/** A set of listeners; `add` returns the unsubscribe function. */
class Listeners<T> {
  private readonly listeners = new Set<Listener<T>>();

  add(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of this.listeners) listener(value);
  }

  get size(): number {
    return this.listeners.size;
  }

  clear(): void {
    this.listeners.clear();
  }
}

export class Store {
  readonly loader: SliceLoader;
  readonly tiles: TileLoader;
  readonly labels: LabelVolume;
  readonly link: KernelLink;
  readonly stats: WidgetStats;
  private readonly errors = new Listeners<string>();
  private readonly pending = new Listeners<void>();
  private readonly cleanups: (() => void)[] = [];
  private labelsAsked = false;

  constructor(readonly model: Model) {
    const send = (msg: OutgoingMsg) => model.send(msg);
    const nextRequestId = (): number => this.link.newRequestId();
    const error = (message: string) => this.errors.emit(message);
    this.loader = new SliceLoader({ send, nextRequestId, error });
    this.tiles = new TileLoader({ send, nextRequestId, error });
    this.labels = new LabelVolume(model.get("shape"));
    this.link = new KernelLink(
      send,
      this.loader,
      this.labels,
      { error, pendingChanged: () => this.pending.emit() },
      this.tiles,
    );
    this.stats = this.link.stats;
    // One handler per model: each message is handled once, however many views show it.
    const onMessage = (msg: IncomingMsg, buffers: DataView[]) => this.link.handle(msg, buffers);
    model.on("msg:custom", onMessage);
    this.cleanups.push(() => model.off("msg:custom", onMessage));
    this.cleanups.push(onTraits(model, ["shape"], () => this.reshape()));
    this.start();
  }

  /** Hear errors the user must see (kernel replies, undecodable data); returns the unsubscribe. */
  onError(listener: (message: string) => void): () => void {
    return this.errors.add(listener);
  }

  /** Hear when prompts in flight change (their ghosts are redrawn); returns the unsubscribe. */
  onPending(listener: () => void): () => void {
    return this.pending.add(listener);
  }

  /** Views subscribed now (for tests: every unmounted view has let go). */
  get listenerCount(): number {
    return this.errors.size + this.pending.size;
  }

  /**
   * A view has asked for its slices: ask for the label state now, once per model, so the visible
   * slice still comes first (the kernel answers in order).
   */
  viewShown(): void {
    if (this.labelsAsked) return;
    this.labelsAsked = true;
    this.link.requestLabels();
  }

  /** A view drew a slice: the first one of this model sets `first_slice_ms`. */
  drawn(): void {
    if (this.stats.first_slice_ms === undefined) this.stats.first_slice_ms = performance.now() - this.stats.rendered_ms;
  }

  /** The model is gone: stop hearing it. */
  dispose(): void {
    this.cleanups.forEach((cleanup) => cleanup());
    this.cleanups.length = 0;
    this.errors.clear();
    this.pending.clear();
  }

  private start(): void {
    const window = this.model.get("window");
    const stats = this.model.get("intensity_stats");
    if ((!window || !(window[1] > 0)) && stats) saveTrait(this.model, "window", autoWindow(stats));
  }

  /** A new image shape: caches and labels start over (views rebuild on their own listener). */
  private reshape(): void {
    this.loader.clear();
    this.tiles.clear();
    this.labels.resize(this.model.get("shape"));
    if (this.labelsAsked) this.link.requestLabels();
  }
}
