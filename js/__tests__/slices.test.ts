import { describe, expect, it, vi } from "vitest";
import { LruCache, SliceLoader, decodeSlice, neighbourSteps, sliceFromReply } from "../slices";
import type { GetSliceMsg, SliceReply } from "../types";

describe("LruCache", () => {
  it("evicts the least recently used entries to stay under its byte budget", () => {
    const cache = new LruCache<string, Uint8Array>(10, (value) => value.byteLength);
    cache.set("a", new Uint8Array(4));
    cache.set("b", new Uint8Array(4));
    cache.get("a"); // a is now the most recent
    cache.set("c", new Uint8Array(4));
    expect(cache.has("a")).toBe(true);
    expect(cache.has("b")).toBe(false);
    expect(cache.has("c")).toBe(true);
    expect(cache.bytes).toBe(8);
  });

  it("keeps an entry larger than the budget until the next one arrives", () => {
    const cache = new LruCache<string, Uint8Array>(10, (value) => value.byteLength);
    cache.set("big", new Uint8Array(20));
    expect(cache.has("big")).toBe(true);
    cache.set("small", new Uint8Array(2));
    expect(cache.has("big")).toBe(false);
    expect(cache.bytes).toBe(2);
  });

  it("replaces an entry without counting it twice", () => {
    const cache = new LruCache<string, Uint8Array>(100, (value) => value.byteLength);
    cache.set("a", new Uint8Array(10));
    cache.set("a", new Uint8Array(30));
    expect(cache.bytes).toBe(30);
    expect(cache.size).toBe(1);
  });
});

describe("sliceFromReply", () => {
  const reply = (dtype: SliceReply["dtype"], shape: [number, number]): SliceReply => ({
    type: "slice",
    axis: 2,
    index: 3,
    request_id: 1,
    dtype,
    shape,
  });

  it("wraps the buffer in the typed array of its dtype", () => {
    const values = new Int16Array([-5, 7, 300, -1000, 0, 1]);
    const slice = sliceFromReply(reply("int16", [2, 3]), new DataView(values.buffer));
    expect(slice.data).toBeInstanceOf(Int16Array);
    expect([...slice.data]).toEqual([...values]);
  });

  it("copies a misaligned buffer", () => {
    const bytes = new Uint8Array(9);
    new DataView(bytes.buffer).setFloat32(1, 2.5, true);
    new DataView(bytes.buffer).setFloat32(5, -1, true);
    const slice = sliceFromReply(reply("float32", [1, 2]), new DataView(bytes.buffer, 1, 8));
    expect([...slice.data]).toEqual([2.5, -1]);
  });

  it("rejects a buffer of the wrong size and an unknown dtype", () => {
    expect(() => sliceFromReply(reply("uint16", [2, 2]), new DataView(new ArrayBuffer(6)))).toThrow(
      /has 6 bytes; uint16 \[2, 2\] needs 8/,
    );
    expect(() => sliceFromReply(reply("float64" as never, [1, 1]), new DataView(new ArrayBuffer(8)))).toThrow(
      /not one of/,
    );
  });

  it("keeps the stride of a slice sent at the displayed resolution (default 1)", () => {
    const buffer = new DataView(new ArrayBuffer(4));
    expect(sliceFromReply(reply("uint8", [2, 2]), buffer).stride).toBe(1);
    expect(sliceFromReply({ ...reply("uint8", [2, 2]), stride: 3 }, buffer).stride).toBe(3);
    expect(() => sliceFromReply({ ...reply("uint8", [2, 2]), stride: 0 }, buffer)).toThrow(
      /stride 0 is not a positive/,
    );
    expect(() => sliceFromReply({ ...reply("uint8", [2, 2]), stride: 1.5 }, buffer)).toThrow(/stride 1.5/);
  });
});

describe("neighbourSteps", () => {
  it("goes both ways when standing still and mostly ahead when moving", () => {
    expect(neighbourSteps({ index: 10, size: 100, direction: 0 }, 4)).toEqual([10, 11, 9, 12, 8]);
    expect(neighbourSteps({ index: 10, size: 100, direction: 1 }, 4)).toEqual([10, 11, 9, 12, 13, 14]);
    expect(neighbourSteps({ index: 10, size: 100, direction: -1 }, 4)).toEqual([10, 9, 11, 8, 7, 6]);
  });

  it("stays inside the volume", () => {
    expect(neighbourSteps({ index: 0, size: 3, direction: 0 }, 8)).toEqual([0, 1, 2]);
  });
});

describe("SliceLoader", () => {
  function setup(maxInFlight = 3, maxPerRequest = 1) {
    const sent: GetSliceMsg[] = [];
    let id = 0;
    const loader = new SliceLoader({
      send: (msg) => sent.push(msg),
      nextRequestId: () => ++id,
      maxInFlight,
      maxPerRequest,
      prefetchAhead: 4,
    });
    /** Answer a request as the kernel does: one reply, one buffer per slice in order. */
    const answer = (msg: GetSliceMsg) => {
      const { axis, index, request_id, count = 1, step = 1 } = msg;
      const buffers = Array.from(
        { length: count },
        (_, k) => new DataView(new Uint8Array([index + k * step, 0, 0, 0]).buffer),
      );
      loader.handleReply(
        { type: "slice", axis, index, request_id, count, step, dtype: "uint8", shape: [2, 2] },
        buffers,
      );
    };
    return { loader, sent, answer };
  }

  it("asks for the shown slice alone, then runs of neighbours leading away from it", () => {
    const { loader, sent, answer } = setup(12, 4);
    loader.focus(2, 10, 50, 1);
    const runs = () => sent.map((msg) => [msg.index, msg.count ?? 1, msg.step]);
    // ahead: 11..14 (prefetch 4), behind: 9 (a quarter as many)
    expect(runs()).toEqual([
      [10, 1, undefined],
      [11, 4, 1],
      [9, 1, undefined],
    ]);
    answer(sent[1]);
    expect(loader.get(2, 13)?.data[0]).toBe(13);
    loader.focus(2, 30, 50, -1);
    expect(runs().slice(3)).toEqual([
      [30, 1, undefined],
      [29, 4, -1],
      [31, 1, undefined],
    ]);
  });

  it("keeps asking for whole runs while the view moves a slice at a time", () => {
    const sent: GetSliceMsg[] = [];
    const loader = new SliceLoader({
      send: (msg) => sent.push(msg),
      nextRequestId: () => sent.length + 1,
      maxInFlight: 64,
      maxPerRequest: 8,
      prefetchAhead: 32,
    });
    const answerAll = () => {
      for (const msg of sent.splice(0)) {
        const { axis, index, request_id, count = 1, step = 1 } = msg;
        const buffers = Array.from({ length: count }, () => new DataView(new ArrayBuffer(1)));
        const reply: SliceReply = {
          type: "slice",
          axis,
          index,
          request_id,
          count,
          step,
          dtype: "uint8",
          shape: [1, 1],
        };
        loader.handleReply(reply, buffers);
      }
    };
    loader.focus(2, 0, 300, 0);
    answerAll();
    const counts: number[] = [];
    for (let index = 1; index <= 80; index++) {
      loader.focus(2, index, 300, 1);
      counts.push(...sent.map((msg) => msg.count ?? 1));
      answerAll();
    }
    expect(counts.every((count) => count === 8)).toBe(true);
    // the window (32 ahead) moved from 16 to 112: slices 17..112 in 12 messages
    expect(counts.length).toBe(12);
    for (let index = 1; index <= 112; index++) expect(loader.get(2, index)).toBeDefined();
  });

  it("counts every slice of a run against the in-flight limit, and frees a failed run whole", () => {
    const { loader, sent } = setup(3, 8);
    loader.focus(0, 0, 50, 1);
    const runs = () => sent.map((msg) => [msg.index, msg.count ?? 1]);
    expect(runs()).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(loader.handleError(sent[1].request_id)).toBe(true);
    expect(runs().slice(2)).toEqual([[1, 2]]);
  });

  it("ignores a reply for a slice its request did not ask for", () => {
    const { loader, sent } = setup(3, 8);
    loader.focus(0, 0, 50, 1);
    const reply = { type: "slice", axis: 0, index: 5, request_id: sent[0].request_id, dtype: "uint8", shape: [1, 1] };
    expect(loader.handleReply(reply as SliceReply, [new DataView(new ArrayBuffer(1))])).toBe(false);
    expect(() =>
      loader.handleReply({ ...(reply as SliceReply), count: 2 }, [new DataView(new ArrayBuffer(1))]),
    ).toThrow(/for 2 slices came with 1 buffers/);
  });

  it("asks for the shown slice first, then neighbours, within the in-flight limit", () => {
    const { loader, sent } = setup();
    loader.focus(2, 10, 50, 1);
    expect(sent.map((msg) => msg.index)).toEqual([10, 11, 9]);
  });

  it("caches replies, tells listeners, and keeps prefetching as replies arrive", () => {
    const { loader, sent, answer } = setup();
    const heard: number[] = [];
    loader.onSlice((slice) => heard.push(slice.index));
    loader.focus(2, 10, 50, 1);
    answer(sent[0]);
    expect(heard).toEqual([10]);
    expect(loader.get(2, 10)?.data[0]).toBe(10);
    expect(sent.map((msg) => msg.index)).toEqual([10, 11, 9, 12]);
  });

  it("puts a newly shown slice ahead of stale prefetches", () => {
    const { loader, sent, answer } = setup(2);
    loader.focus(2, 10, 50, 1);
    loader.focus(2, 30, 50, 1);
    answer(sent[0]);
    expect(sent[2].index).toBe(30);
  });

  it("never asks twice for a cached or in-flight slice, and ignores replies it did not ask for", () => {
    const { loader, sent, answer } = setup(6);
    loader.focus(0, 5, 50, 0);
    const first = sent.length;
    loader.focus(0, 5, 50, 0);
    expect(sent.length).toBe(first);
    sent.slice().forEach(answer);
    loader.focus(0, 5, 50, 0);
    expect(new Set(sent.map((msg) => msg.index)).size).toBe(sent.length);
    expect(
      loader.handleReply({ type: "slice", axis: 0, index: 1, request_id: 999, dtype: "uint8", shape: [1, 1] }, [
        new DataView(new ArrayBuffer(1)),
      ]),
    ).toBe(false);
  });

  it("frees the slot of a failed request", () => {
    const { loader, sent } = setup(1);
    loader.focus(1, 3, 10, 0);
    expect(loader.handleError(sent[0].request_id)).toBe(true);
    expect(sent.length).toBe(2);
    expect(sent[1].index).toBe(3);
  });
});

describe("deflated slices", () => {
  const deflate = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  };
  const reply = (request_id: number, encoding: SliceReply["encoding"]): SliceReply => ({
    type: "slice",
    axis: 2,
    index: 4,
    request_id,
    dtype: "int16",
    shape: [3, 2],
    encoding,
  });
  const values = new Int16Array([-1024, 7, 300, 0, 1, -1]);

  it("decodeSlice inflates a deflated reply to the exact values", async () => {
    const packed = await deflate(new Uint8Array(values.buffer));
    const slice = await decodeSlice(reply(1, "deflate"), new DataView(packed.buffer));
    expect(slice.data).toBeInstanceOf(Int16Array);
    expect([...slice.data]).toEqual([...values]);
    await expect(decodeSlice(reply(1, "lz4" as never), new DataView(packed.buffer))).rejects.toThrow(
      /not raw or deflate/,
    );
  });

  it("the loader caches a deflated slice once inflated, and keeps its request in flight until then", async () => {
    const sent: GetSliceMsg[] = [];
    const errors: string[] = [];
    const loader = new SliceLoader({
      send: (msg) => sent.push(msg),
      nextRequestId: () => sent.length + 1,
      maxInFlight: 1,
      prefetchAhead: 2,
      error: (message) => errors.push(message),
    });
    const heard: number[] = [];
    loader.onSlice((slice) => heard.push(slice.index));
    loader.focus(2, 4, 10, 0);
    const packed = await deflate(new Uint8Array(values.buffer));
    expect(loader.handleReply(reply(sent[0].request_id, "deflate"), [new DataView(packed.buffer)])).toBe(true);
    expect(sent.length).toBe(1); // still in flight while inflating
    await vi.waitFor(() => expect(heard).toEqual([4]));
    expect([...(loader.get(2, 4)?.data ?? [])]).toEqual([...values]);
    expect(sent.length).toBe(2); // the slot went to the next slice
    // a corrupt payload is reported, and its slot freed
    loader.handleReply({ ...reply(sent[1].request_id, "deflate"), index: sent[1].index }, [
      new DataView(new ArrayBuffer(5)),
    ]);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toMatch(/Could not decode slice/);
    expect(sent.length).toBe(3);
  });

  it("drops a slice that lands after the loader was cleared", async () => {
    const sent: GetSliceMsg[] = [];
    const loader = new SliceLoader({ send: (msg) => sent.push(msg), nextRequestId: () => sent.length + 1 });
    loader.focus(2, 4, 10, 0);
    const packed = await deflate(new Uint8Array(values.buffer));
    loader.handleReply(reply(sent[0].request_id, "deflate"), [new DataView(packed.buffer)]);
    loader.clear();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(loader.get(2, 4)).toBeUndefined();
  });
});
