import { deflateSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleKey, type KeyActions } from "../keys";
import { LabelVolume } from "../labels";
import { KernelLink } from "../link";
import { SliceLoader } from "../slices";
import type { OutgoingMsg } from "../types";

function setup() {
  const sent: OutgoingMsg[] = [];
  const errors: string[] = [];
  const send = (msg: OutgoingMsg) => sent.push(msg);
  const loader: SliceLoader = new SliceLoader({ send, nextRequestId: () => link.newRequestId() });
  const labels = new LabelVolume([4, 4, 4]);
  const link: KernelLink = new KernelLink(send, loader, labels, {
    error: (m) => errors.push(m),
    pendingChanged: () => {},
  });
  return { sent, errors, loader, labels, link };
}

const patch = (bits: number[]) => {
  const packed = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, k) => (packed[k >> 3] |= bit << (k & 7)));
  return new DataView(deflateSync(packed).buffer.slice(0) as ArrayBuffer);
};

describe("KernelLink", () => {
  beforeEach(() => vi.stubGlobal("requestAnimationFrame", (callback: () => void) => setTimeout(callback, 0)));
  afterEach(() => vi.unstubAllGlobals());

  it("sends a prompt, applies its patches in order, and times it when done", async () => {
    const { sent, labels, link } = setup();
    link.submit({ tool: "point", positive: true, axis: 2, index: 1, vertices: [[1, 2]] });
    const prompt = sent[0] as Extract<OutgoingMsg, { type: "prompt" }>;
    expect(prompt).toMatchObject({ type: "prompt", tool: "point", axis: 2, index: 1, vertices: [[1, 2]] });
    expect(link.pendingPrompts()).toHaveLength(1);
    const id = prompt.request_id;
    link.handle(
      {
        type: "mask_patch",
        object: 2,
        bbox: [
          [0, 1],
          [0, 1],
          [0, 2],
        ],
        encoding: "packbits-deflate",
        request_id: id,
      },
      [patch([1, 1])],
    );
    link.handle(
      {
        type: "mask_patch",
        object: 2,
        bbox: [
          [0, 1],
          [0, 1],
          [0, 2],
        ],
        encoding: "packbits-deflate",
        request_id: id,
      },
      [patch([0, 1])],
    );
    link.handle(
      {
        type: "done",
        request_id: id,
        bbox: [
          [0, 1],
          [0, 1],
          [0, 2],
        ],
        compute_s: 0.25,
      },
      [],
    );
    await labels.enqueue(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect([...labels.volume.slice(0, 2)]).toEqual([0, 2]);
    expect(link.pendingPrompts()).toHaveLength(0);
    const stats = link.stats.prompts[0];
    expect(stats.compute_s).toBe(0.25);
    expect(stats.patch_voxels).toBe(4);
    expect(stats.drawn_ms).toBeGreaterThanOrEqual(stats.done_ms as number);
  });

  it("shows errors for its own requests and for requests of nobody, not for other views'", () => {
    const { sent, errors, link } = setup();
    link.command("undo");
    const id = (sent[0] as { request_id: number }).request_id;
    link.handle({ type: "error", request_id: id + 12345, message: "someone else's" }, []);
    link.handle({ type: "error", request_id: id, message: "nothing to undo" }, []);
    link.handle({ type: "error", request_id: null, message: "malformed" }, []);
    expect(errors).toEqual(["nothing to undo", "malformed"]);
  });

  it("reports a broken patch instead of throwing", async () => {
    const { errors, labels, link } = setup();
    link.handle(
      {
        type: "mask_patch",
        object: 1,
        bbox: [
          [0, 9],
          [0, 1],
          [0, 1],
        ],
        encoding: "packbits-deflate",
        request_id: null,
      },
      [patch([1])],
    );
    await labels.enqueue(() => undefined).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(errors[0]).toMatch(/Could not apply a mask update: .*not a half-open box inside shape/);
  });

  it("clears the label volume on labels_reset", async () => {
    const { labels, link } = setup();
    labels.volume.fill(3);
    link.handle({ type: "labels_reset", request_id: null }, []);
    await labels.enqueue(() => undefined);
    expect(labels.volume.every((value) => value === 0)).toBe(true);
  });
});

describe("keys", () => {
  function actions() {
    const calls: string[] = [];
    const record =
      (name: string) =>
      (...args: unknown[]) =>
        calls.push([name, ...args].join(" "));
    const keyActions: KeyActions = {
      tool: record("tool"),
      togglePolarity: record("polarity"),
      command: record("command"),
      toggleHelp: record("help"),
      escape: record("escape"),
      step: record("step"),
      zoom: record("zoom"),
      fit: record("fit"),
      axis: record("axis"),
      toggleLayout: record("layout"),
      toggleOutline: record("outline"),
      toggleMasks: record("masks"),
      setSpace: record("space"),
      brushSize: record("brush"),
    };
    return { calls, keyActions };
  }
  const key = (key: string, extra: Partial<KeyboardEventInit> = {}) =>
    ({
      key,
      ctrlKey: false,
      metaKey: false,
      altKey: false,
      shiftKey: false,
      target: { matches: () => false },
      ...extra,
    }) as unknown as KeyboardEvent;

  it("maps napari-nninteractive's keys", () => {
    const { calls, keyActions } = actions();
    for (const name of ["p", "B", "s", "l", "t", "r", "m", "?", "ArrowUp", "PageDown", "+", "0", "3", "v"]) {
      expect(handleKey(key(name), keyActions)).toBe(true);
    }
    expect(handleKey(key("z", { ctrlKey: true }), keyActions)).toBe(true);
    expect(handleKey(key("z", { ctrlKey: true, shiftKey: true }), keyActions)).toBe(true);
    expect(handleKey(key("ArrowDown", { shiftKey: true }), keyActions)).toBe(true);
    expect(calls).toEqual([
      "tool point",
      "tool box",
      "tool scribble",
      "tool lasso",
      "polarity",
      "command reset_object",
      "command new_object",
      "help",
      "step 1",
      "step -10",
      "zoom 1.25",
      "fit",
      "axis 2",
      "layout",
      "command undo",
      "command redo",
      "step -5",
    ]);
  });

  it("leaves other keys, modified keys and form controls alone", () => {
    const { calls, keyActions } = actions();
    expect(handleKey(key("q"), keyActions)).toBe(false);
    expect(handleKey(key("c", { ctrlKey: true }), keyActions)).toBe(false);
    expect(handleKey(key("p", { altKey: true }), keyActions)).toBe(false);
    const select = { matches: (selector: string) => selector === "select" };
    expect(handleKey(key("p", { target: select } as never), keyActions)).toBe(false);
    const slider = { matches: (selector: string) => selector === "input" };
    expect(handleKey(key("ArrowUp", { target: slider } as never), keyActions)).toBe(false);
    expect(handleKey(key("p", { target: slider } as never), keyActions)).toBe(true);
    expect(calls).toEqual(["tool point"]);
  });
});
