import { describe, expect, it } from "vitest";
import { colourTable, labelSlice, paletteColor, renderOverlay } from "../overlay";
import { finishGesture, startGesture, extendGesture, scribbleWidth } from "../gestures";
import type { ObjectInfo, Vec3 } from "../types";
import { autoWindow, dragWindow, matchingPreset, presetWindow, windowSlice } from "../windows";

const stats = { min: -1000, max: 1000, p01: -200, p99: 600, p005: -900, p995: 900 };

describe("window", () => {
  it("has the CT presets and an auto-percentile window", () => {
    expect(presetWindow("soft", stats)).toEqual([40, 400]);
    expect(presetWindow("lung", stats)).toEqual([-600, 1500]);
    expect(presetWindow("bone", stats)).toEqual([400, 1800]);
    expect(presetWindow("brain", stats)).toEqual([40, 80]);
    expect(presetWindow("auto", stats)).toEqual([0, 1800]);
    expect(autoWindow({ ...stats, p005: 5, p995: 5 })).toEqual([200, 800]);
    expect(autoWindow({ ...stats, p005: 5, p995: 5, p01: 5, p99: 5 })).toEqual([0, 2000]);
    expect(matchingPreset([40, 400], stats)).toBe("soft");
    expect(matchingPreset([0, 1800], stats)).toBe("auto");
    expect(matchingPreset([1, 2], stats)).toBeNull();
  });

  it("widens on right-drag to the right and raises the level downward", () => {
    const [level, width] = dragWindow([40, 400], 100, 40, stats);
    expect(width).toBeGreaterThan(400);
    expect(level).toBeGreaterThan(40);
    expect(dragWindow([40, 400], -10000, 0, stats)[1]).toBeGreaterThan(0);
  });

  it("writes opaque grey pixels in the slice's own order", () => {
    const data = new Int16Array([0, 100, 200, 300, 400, 500]);
    const out = new Uint32Array(6);
    windowSlice(data, [250, 500], out);
    expect([...out].map((pixel) => pixel & 0xff)).toEqual([0, 51, 102, 153, 204, 255]);
    expect([...out].every((pixel) => pixel >>> 24 === 255)).toBe(true);
    expect([...out].every((pixel) => ((pixel >> 8) & 0xff) === (pixel & 0xff))).toBe(true);
  });

  it("maps 8- and 16-bit integers through its table exactly as float values are mapped", () => {
    const types = [Uint8Array, Int8Array, Uint16Array, Int16Array] as const;
    for (const Type of types) {
      const values = Array.from({ length: 600 }, (_, k) => (k * 977) % 65536);
      const data = Type.from(values.map((v) => (Type === Int8Array ? (v % 256) - 128 : v)));
      for (const window of [
        [40, 400],
        [100.5, 3],
        [-600, 1500],
        [0, 1e-9],
      ] as [number, number][]) {
        const fromTable = new Uint32Array(data.length);
        const direct = new Uint32Array(data.length);
        windowSlice(data, window, fromTable);
        windowSlice(Float32Array.from(data), window, direct);
        expect([...fromTable]).toEqual([...direct]);
      }
    }
  });
});

describe("overlay", () => {
  const shape: Vec3 = [3, 4, 5];
  const labels = Uint8Array.from({ length: 60 }, (_, k) => k % 7);
  const at = (x: number, y: number, z: number) => labels[(x * 4 + y) * 5 + z];

  it("extracts label slices along every axis", () => {
    const sliceX = labelSlice(labels, shape, 0, 1);
    expect(sliceX[2 * 5 + 3]).toBe(at(1, 2, 3));
    const sliceY = labelSlice(labels, shape, 1, 2);
    expect(sliceY[1 * 5 + 4]).toBe(at(1, 2, 4));
    const sliceZ = labelSlice(labels, shape, 2, 3);
    expect(sliceZ[2 * 4 + 1]).toBe(at(2, 1, 3));
  });

  it("colours objects, hides hidden ones, and switches everything off", () => {
    const objects: ObjectInfo[] = [
      { id: 1, name: "a", color: [10, 20, 30], class_id: null, visible: true, voxels: 1 },
      { id: 2, name: "b", color: [1, 2, 3], class_id: null, visible: false, voxels: 1 },
    ];
    const table = colourTable(objects, new Set([3]), { opacity: 0.5, outline: false, show: true });
    expect(table.fill[1]).toBe(((128 << 24) | (30 << 16) | (20 << 8) | 10) >>> 0);
    expect(table.fill[2]).toBe(0);
    expect(table.fill[3]).toBe(0);
    const [r, g, b] = paletteColor(4);
    expect(table.fill[4] & 0xffffff).toBe((b << 16) | (g << 8) | r);
    expect(colourTable(objects, new Set(), { opacity: 0.5, outline: false, show: false }).fill[1]).toBe(0);
    expect(colourTable(objects, new Set(), { opacity: 0.5, outline: true, show: true }).fill[1]).toBe(0);
  });

  it("draws only edges in outline mode", () => {
    const slice = new Uint8Array(25);
    for (let p = 1; p <= 3; p++) for (let q = 1; q <= 3; q++) slice[p * 5 + q] = 1;
    const objects: ObjectInfo[] = [{ id: 1, name: "a", color: [255, 0, 0], class_id: null, visible: true, voxels: 9 }];
    const out = new Uint32Array(25);
    expect(
      renderOverlay(slice, 5, 5, colourTable(objects, new Set(), { opacity: 0.4, outline: true, show: true }), out),
    ).toBe(8);
    expect(out[2 * 5 + 2]).toBe(0);
    expect(
      renderOverlay(slice, 5, 5, colourTable(objects, new Set(), { opacity: 0.4, outline: false, show: true }), out),
    ).toBe(9);
    expect(out[2 * 5 + 2] >>> 24).toBe(102);
    expect(out[1 * 5 + 1] >>> 24).toBeGreaterThan(102);
  });
});

describe("gestures", () => {
  const shape: Vec3 = [40, 30, 20];

  it("sends a point as the nearest voxel", () => {
    const gesture = startGesture("point", true, 2, 7, shape, [3.4, 5.6])!;
    expect(finishGesture(gesture, shape).prompt).toEqual({
      tool: "point",
      positive: true,
      axis: 2,
      index: 7,
      vertices: [[3, 6]],
    });
    expect(startGesture("point", true, 2, 7, shape, [-1, 5])).toBeNull();
  });

  it("sends a box as two corners and ignores a click without a drag", () => {
    const gesture = startGesture("box", false, 0, 3, shape, [2, 2])!;
    expect(finishGesture(gesture, shape).prompt).toBeNull();
    extendGesture(gesture, [10.123, 1]);
    extendGesture(gesture, [12.5, 15.25]);
    expect(finishGesture(gesture, shape).prompt?.vertices).toEqual([
      [2, 2],
      [12.5, 15.25],
    ]);
  });

  it("clips a box dragged past the edge to the slice", () => {
    const gesture = startGesture("box", true, 2, 0, shape, [5, 5])!;
    extendGesture(gesture, [100, -20]);
    expect(finishGesture(gesture, shape).prompt?.vertices).toEqual([
      [5, 5],
      [39, 0],
    ]);
  });

  it("simplifies lassos and rejects a line", () => {
    const gesture = startGesture("lasso", true, 1, 4, shape, [10, 10])!;
    for (let k = 1; k <= 100; k++) {
      const angle = (2 * Math.PI * k) / 100;
      extendGesture(gesture, [10 + 5 * Math.cos(angle), 10 + 5 * Math.sin(angle)]);
    }
    const prompt = finishGesture(gesture, shape).prompt!;
    expect(prompt.vertices.length).toBeGreaterThanOrEqual(8);
    expect(prompt.vertices.length).toBeLessThan(60);
    const line = startGesture("lasso", true, 1, 4, shape, [1, 1])!;
    extendGesture(line, [8, 1]);
    expect(finishGesture(line, shape).prompt).toBeNull();
  });

  it("keeps a scribble dot as one vertex and takes its width from the in-plane thickness", () => {
    const gesture = startGesture("scribble", true, 2, 1, shape, [4, 4])!;
    expect(finishGesture(gesture, shape).prompt?.vertices).toEqual([[4, 4]]);
    expect(scribbleWidth(0, [9, 2, 4])).toBe(3);
    expect(scribbleWidth(2, null)).toBe(1);
  });
});
