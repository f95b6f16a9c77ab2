/**
 * The brush rule on the browser side, voxel for voxel against tests/widget/brush_fixture.json (the
 * kernel's voxels, which tests/widget/test_brush_fixture.py checks on its side); the stroke drawn
 * at once into the label volume follows the overlap policy and the eraser touches only the active
 * object; an error puts the voxels back; `[` and `]` step the radius within the kernel's range.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { drawStroke, radiusVoxels, stepRadius, strokeRegion } from "../brush";
import { extendGesture, finishGesture, startGesture } from "../gestures";
import { type KeyActions, KEY_HELP, handleKey } from "../keys";
import { LabelVolume } from "../labels";
import { planeAxes } from "../transform";
import type { Axis, PlanePoint, Vec3 } from "../types";

interface BrushCase {
  name: string;
  axis: Axis;
  index: number;
  shape: Vec3;
  radius: [number, number];
  message: { vertices: PlanePoint[]; radius: [number, number] };
  voxels: string[];
}

const CASES: BrushCase[] = JSON.parse(
  readFileSync(new URL("../../tests/widget/brush_fixture.json", import.meta.url), "utf-8"),
);

/** The browser's voxels of a fixture stroke as sorted "x,y,z" strings (the pytest's form). */
function browserVoxels(c: BrushCase): string[] {
  const [pAxis, qAxis] = planeAxes(c.axis);
  const region = strokeRegion(c.message.vertices, c.message.radius, [c.shape[pAxis], c.shape[qAxis]]);
  if (!region) return [];
  const out: string[] = [];
  for (let i = 0; i < region.size[0]; i++) {
    for (let j = 0; j < region.size[1]; j++) {
      if (!region.covered[i * region.size[1] + j]) continue;
      const voxel: Vec3 = [0, 0, 0];
      voxel[c.axis] = c.index;
      voxel[pAxis] = region.origin[0] + i;
      voxel[qAxis] = region.origin[1] + j;
      out.push(voxel.join(","));
    }
  }
  return out.sort();
}

describe("brush rule", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s: the browser paints the kernel's voxels", (_, c) => {
    expect(CASES.length).toBeGreaterThanOrEqual(8);
    expect(browserVoxels(c)).toEqual([...c.voxels].sort());
  });

  it("gives a radius in mm per in-plane axis", () => {
    expect(radiusVoxels(1, 4, "mm", [1, 1, 2])).toEqual([4, 2]);
    expect(radiusVoxels(2, 4, "voxel", [1, 1, 2])).toEqual([4, 4]);
  });

  it("steps the radius within the kernel's range", () => {
    expect(stepRadius(3, 1)).toBe(3.5);
    expect(stepRadius(0.5, -1)).toBe(0.5);
    expect(stepRadius(20, 1)).toBe(23);
    expect(stepRadius(511, 1)).toBe(512);
  });

  it("makes edits positive whatever the polarity shown", () => {
    const gesture = startGesture("fill", false, 2, 0, [20, 20, 1], [4.2, 5.6]);
    expect(gesture).not.toBeNull();
    if (!gesture) return;
    const { prompt } = finishGesture(gesture, [20, 20, 1]);
    expect(prompt).toMatchObject({ tool: "fill", positive: true, vertices: [[4, 6]] });
  });

  it("sends every pointer position of a stroke, unclamped", () => {
    const gesture = startGesture("paint", true, 2, 0, [20, 20, 1], [2, 2]);
    expect(gesture).not.toBeNull();
    if (!gesture) return;
    extendGesture(gesture, [25, 2]); // a fast drag off the slice
    const { prompt } = finishGesture(gesture, [20, 20, 1]);
    expect(prompt?.vertices).toEqual([
      [2, 2],
      [25, 2],
    ]);
  });
});

describe("stroke drawn at once", () => {
  const shape: Vec3 = [8, 8, 1];
  const at = (x: number, y: number) => x * shape[1] + y;

  async function volumeWith(values: [number, number, number][]): Promise<LabelVolume> {
    const labels = new LabelVolume(shape);
    await labels.enqueue(() => values.forEach(([x, y, id]) => (labels.volume[at(x, y)] = id)));
    return labels;
  }

  it("paints background only under lock, and over others under overwrite", async () => {
    const labels = await volumeWith([[4, 4, 2]]);
    const edit = {
      tool: "paint" as const,
      axis: 2 as Axis,
      index: 0,
      vertices: [[4, 4]] as PlanePoint[],
      radius: [1, 1] as [number, number],
    };
    await drawStroke(labels, edit, 1, "lock");
    expect(labels.volume[at(4, 4)]).toBe(2);
    expect([at(3, 4), at(5, 4), at(4, 3), at(4, 5)].map((i) => labels.volume[i])).toEqual([1, 1, 1, 1]);
    await drawStroke(labels, edit, 1, "overwrite");
    expect(labels.volume[at(4, 4)]).toBe(1);
  });

  it("erases the active object only, and an error puts the voxels back", async () => {
    const labels = await volumeWith([
      [4, 4, 1],
      [4, 5, 2],
    ]);
    const edit = {
      tool: "erase" as const,
      axis: 2 as Axis,
      index: 0,
      vertices: [[4, 4.5]] as PlanePoint[],
      radius: [1, 1] as [number, number],
    };
    const revert = await drawStroke(labels, edit, 1, "overwrite");
    expect(labels.volume[at(4, 4)]).toBe(0);
    expect(labels.volume[at(4, 5)]).toBe(2);
    revert();
    await labels.enqueue(() => undefined);
    expect(labels.volume[at(4, 4)]).toBe(1);
  });
});

describe("edit keys", () => {
  it("follow napari where ours leave room: D brush, E eraser, F fill, [ ] size, in the help", () => {
    const calls: string[] = [];
    const record =
      (name: string) =>
      (...args: unknown[]) =>
        calls.push([name, ...args].join(" "));
    const actions = new Proxy({}, { get: (_, name) => record(String(name)) }) as KeyActions;
    const key = (k: string) =>
      ({
        key: k,
        ctrlKey: false,
        metaKey: false,
        altKey: false,
        shiftKey: false,
        target: { matches: () => false },
      }) as unknown as KeyboardEvent;
    for (const k of ["d", "E", "f", "[", "]"]) expect(handleKey(key(k), actions)).toBe(true);
    expect(calls).toEqual(["tool paint", "tool erase", "tool fill", "brushSize -1", "brushSize 1"]);
    const help = KEY_HELP.map(([keys]) => keys).join(" ");
    expect(help).toContain("D  E  F");
    expect(help).toContain("[  ]");
  });
});
