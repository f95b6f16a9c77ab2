/**
 * The per-model store (anywidget's `initialize`): one per Segmenter model, shared by its views.
 * A fake model stands in for anywidget's: traits, change events, `msg:custom` and `send`.
 */
import { deflateSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SliceLoader } from "../slices";
import { Store } from "../store";
import type { Model } from "../traits";
import type { IncomingMsg, OutgoingMsg, WidgetTraits } from "../types";
import segmenterWidget from "../widget";

type Handler = (...args: unknown[]) => void;

class FakeModel {
  readonly sent: OutgoingMsg[] = [];
  saves = 0;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(private readonly state: Partial<WidgetTraits>) {}

  get<K extends keyof WidgetTraits>(name: K): WidgetTraits[K] {
    return this.state[name] as WidgetTraits[K];
  }

  set<K extends keyof WidgetTraits>(name: K, value: WidgetTraits[K]): void {
    this.state[name] = value;
    this.emit(`change:${name}`);
  }

  save_changes(): void {
    this.saves++;
  }

  send(content: OutgoingMsg): void {
    this.sent.push(content);
  }

  on(name: string, handler: Handler): void {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name)?.add(handler);
  }

  off(name: string, handler: Handler): void {
    this.handlers.get(name)?.delete(handler);
  }

  emit(name: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(name) ?? []) handler(...args);
  }

  /** Kernel -> browser custom message. */
  receive(msg: IncomingMsg, buffers: DataView[] = []): void {
    this.emit("msg:custom", msg, buffers);
  }

  listeners(name?: string): number {
    let count = 0;
    for (const [key, set] of this.handlers) if (name === undefined || key === name) count += set.size;
    return count;
  }

  asModel(): Model {
    return this as unknown as Model;
  }
}

const STATS = { min: 0, max: 100, p01: 1, p99: 99, p005: 0.5, p995: 99.5 };

function fakeModel(): FakeModel {
  return new FakeModel({ shape: [4, 4, 4], window: [0, 0], intensity_stats: STATS, slice_index: [2, 2, 2] });
}

/** A one-voxel-deep patch of object `object` over x = 0..n (bits are the mask). */
function patchMsg(object: number, bits: number[]): [IncomingMsg, DataView[]] {
  const packed = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, k) => (packed[k >> 3] |= bit << (k & 7)));
  const msg: IncomingMsg = {
    type: "mask_patch",
    object,
    bbox: [
      [0, bits.length],
      [0, 1],
      [0, 1],
    ],
    encoding: "packbits-deflate",
    request_id: null,
  };
  return [msg, [new DataView(deflateSync(packed).buffer.slice(0) as ArrayBuffer)]];
}

describe("Store", () => {
  beforeEach(() => vi.stubGlobal("requestAnimationFrame", (callback: () => void) => setTimeout(callback, 0)));
  afterEach(() => vi.unstubAllGlobals());

  it("sets an automatic window when the model has none, and asks for the labels once a view shows", () => {
    const model = fakeModel();
    const store = new Store(model.asModel());
    expect(model.get("window")[1]).toBeGreaterThan(0);
    expect(model.saves).toBe(1);
    expect(model.sent).toEqual([]);
    store.viewShown();
    store.viewShown();
    expect(model.sent.map((msg) => msg.type)).toEqual(["get_labels"]);
  });

  it("applies each mask patch once to the one label volume, and every view hears it", async () => {
    const model = fakeModel();
    const store = new Store(model.asModel());
    const heard: string[] = [];
    const views = ["first", "second"].map((name) => store.labels.onChange((bbox) => heard.push(`${name} ${bbox}`)));
    model.receive(...patchMsg(3, [1, 0, 1, 1]));
    await store.labels.enqueue(() => undefined);
    expect(model.listeners("msg:custom")).toBe(1);
    expect([...store.labels.volume.slice(0, 4 * 16).filter((_, k) => k % 16 === 0)]).toEqual([3, 0, 3, 3]);
    expect(heard).toEqual(["first 0,4,0,1,0,1", "second 0,4,0,1,0,1"]);
    views.forEach((unsubscribe) => unsubscribe());
  });

  it("tells every view of an error once, and lets go of views that unsubscribe", () => {
    const model = fakeModel();
    const store = new Store(model.asModel());
    const first: string[] = [];
    const second: string[] = [];
    const unsubscribe = [store.onError((m) => first.push(m)), store.onError((m) => second.push(m))];
    const pending = store.onPending(() => undefined);
    model.receive({ type: "error", request_id: null, message: "the kernel said no" });
    expect([first, second]).toEqual([["the kernel said no"], ["the kernel said no"]]);
    expect(store.listenerCount).toBe(3);
    [...unsubscribe, pending].forEach((cleanup) => cleanup());
    expect(store.listenerCount).toBe(0);
    model.receive({ type: "error", request_id: null, message: "nobody listens" });
    expect(first).toHaveLength(1);
  });

  it("starts its caches and labels over on a new shape", async () => {
    const model = fakeModel();
    const store = new Store(model.asModel());
    store.viewShown();
    model.receive(...patchMsg(1, [1]));
    await store.labels.enqueue(() => undefined);
    model.set("shape", [2, 3, 5]);
    await store.labels.enqueue(() => undefined);
    expect(store.labels.shape).toEqual([2, 3, 5]);
    expect(store.labels.empty).toBe(true);
    expect(model.sent.filter((msg) => msg.type === "get_labels")).toHaveLength(2);
  });

  it("removes its model handlers when disposed", () => {
    const model = fakeModel();
    const store = new Store(model.asModel());
    expect(model.listeners()).toBeGreaterThan(0);
    store.dispose();
    expect(model.listeners()).toBe(0);
    model.receive({ type: "labels_reset", request_id: null });
  });
});

describe("segmenterWidget", () => {
  it("makes one store per model in initialize and disposes it in the cleanup", async () => {
    const [a, b] = [fakeModel(), fakeModel()];
    const cleanups = await Promise.all(
      [a, b].map((model) => {
        const props = { model: model.asModel() } as Parameters<ReturnType<typeof segmenterWidget>["initialize"]>[0];
        return segmenterWidget().initialize(props) as () => void;
      }),
    );
    expect([a.listeners("msg:custom"), b.listeners("msg:custom")]).toEqual([1, 1]);
    cleanups[0]();
    expect([a.listeners(), b.listeners("msg:custom")]).toEqual([0, 1]);
    cleanups[1]();
  });
});

describe("SliceLoader shared by views", () => {
  it("keeps prefetching along an axis while any view still shows it", () => {
    const loader = new SliceLoader({ send: () => undefined, nextRequestId: () => 1 });
    const [first, second] = [{}, {}];
    loader.focus(2, 10, 50, 0, first);
    loader.focus(2, 10, 50, 0, second);
    loader.unfocus(2, first);
    expect(loader.wanted()[0]).toEqual([2, 10]);
    loader.unfocus(2, second);
    expect(loader.wanted()).toEqual([]);
  });
});
